# GENERATED from tests/async_/test_tls.py by scripts/unasync.py -- do not edit.
"""TLS against real etcd servers: verified server TLS, mutual TLS, host-name checks, and
failures that say why (certificates made at run time by etcd_recipes.testing.make_tls_files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etcd_recipes import Client, ConnectionFailedError, InvalidArgumentError
from etcd_recipes.testing import EtcdServer, TlsBundle, make_tls_files


@pytest.fixture(scope="module")
def tls_bundle(tmp_path_factory: pytest.TempPathFactory) -> TlsBundle:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tls_bundle: TlsBundle) -> Iterator[EtcdServer]:
    with EtcdServer(tls=tls_bundle.server_files(), fsync=False) as server:
        yield server


@pytest.fixture(scope="module")
def mtls_server(tls_bundle: TlsBundle) -> Iterator[EtcdServer]:
    with EtcdServer(tls=tls_bundle.server_files(client_cert_auth=True), fsync=False) as server:
        yield server


def test_https_client_with_the_ca_reads_writes_and_watches(
    tls_server: EtcdServer, tls_bundle: TlsBundle
) -> None:
    url = f"https://{tls_server.endpoint}"
    with Client([url], ca_cert=tls_bundle.ca_cert) as client:
        with client.watch("/tls/", prefix=True) as watcher:
            client.put("/tls/k", "v")
            events = watcher.events(timeout=5)
        assert [e.value for e in events] == [b"v"]
        assert (client.get("/tls/k")).value == b"v"
    # No scheme, PEM bytes: TLS is on because a CA was given.
    ca_bytes = tls_bundle.ca_cert.read_bytes()
    with Client([tls_server.endpoint], ca_cert=ca_bytes) as client:
        assert (client.get("/tls/k")).value == b"v"
        status = client.maintenance.status(endpoint=tls_server.endpoint)
        assert status.version


def test_client_without_the_ca_cannot_connect_and_says_why(tls_server: EtcdServer) -> None:
    client = Client([f"https://{tls_server.endpoint}"], dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        client.connect()
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert "ca_cert" in message  # the hint
    # A call fails the same way, never over plaintext.
    with pytest.raises(ConnectionFailedError) as again:
        client.get("/tls/k", timeout=0.5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(again.value)
    client.close()


def test_plaintext_client_against_tls_server_fails_with_a_hint(
    tls_server: EtcdServer,
) -> None:
    client = Client([tls_server.endpoint], dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        client.connect()
    assert "https://" in str(caught.value)
    client.close()


def test_host_name_is_verified_and_server_name_overrides_it(
    tls_server: EtcdServer, tls_bundle: TlsBundle
) -> None:
    url = f"https://{tls_server.endpoint}"
    # The certificate names 127.0.0.1, ::1 and localhost, not "etcd.example".
    wrong = Client([url], ca_cert=tls_bundle.ca_cert, server_name="etcd.example", dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        wrong.connect()
    assert "server_name" in str(caught.value)
    wrong.close()
    with Client([url], ca_cert=tls_bundle.ca_cert, server_name="localhost") as right:
        right.put("/tls/name", "ok")


def test_mutual_tls(mtls_server: EtcdServer, tls_bundle: TlsBundle) -> None:
    url = f"https://{mtls_server.endpoint}"
    with Client([url], **tls_bundle.client_kwargs()) as client:
        client.put("/mtls/k", "v")
        assert (client.get("/mtls/k")).value == b"v"
        # Member-targeted maintenance calls reuse the client certificate.
        status = client.maintenance.status(endpoint=mtls_server.endpoint)
        assert status.member_id == (client.maintenance.status()).member_id
    anonymous = Client([url], **tls_bundle.client_kwargs(client_cert=False), dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        anonymous.connect()
    assert "cert= and key=" in str(caught.value)
    anonymous.close()


def test_contradictory_or_broken_tls_settings_are_refused(
    tls_bundle: TlsBundle, tmp_path: Path
) -> None:
    ca = tls_bundle.ca_cert
    with pytest.raises(InvalidArgumentError, match="http://"):
        Client(["http://127.0.0.1:2379"], ca_cert=ca)
    with pytest.raises(InvalidArgumentError, match="mix"):
        Client(["http://127.0.0.1:2379", "https://127.0.0.1:2380"])
    with pytest.raises(InvalidArgumentError, match="both cert= and key="):
        Client(["127.0.0.1:2379"], ca_cert=ca, cert=tls_bundle.client_cert)
    missing = tmp_path / "missing.pem"
    with pytest.raises(InvalidArgumentError, match=r"missing\.pem"):
        Client(["127.0.0.1:2379"], ca_cert=missing)
    secret_key = b"not-a-pem-key-0123456789"
    with pytest.raises(InvalidArgumentError) as caught:
        Client(["127.0.0.1:2379"], cert=tls_bundle.client_cert, key=secret_key)
    assert "PEM" in str(caught.value) and secret_key.decode() not in str(caught.value)
