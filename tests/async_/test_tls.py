"""TLS against real etcd servers: verified server TLS, mutual TLS, host-name checks, and
failures that say why (certificates made at run time by etcd_recipes.testing.make_tls_files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etcd_recipes import AsyncClient, ConnectionFailedError, InvalidArgumentError
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


async def test_https_client_with_the_ca_reads_writes_and_watches(
    tls_server: EtcdServer, tls_bundle: TlsBundle
) -> None:
    url = f"https://{tls_server.endpoint}"
    async with AsyncClient([url], ca_cert=tls_bundle.ca_cert) as client:
        async with client.watch("/tls/", prefix=True) as watcher:
            await client.put("/tls/k", "v")
            events = await watcher.events(timeout=5)
        assert [e.value for e in events] == [b"v"]
        assert (await client.get("/tls/k")).value == b"v"
    # No scheme, PEM bytes: TLS is on because a CA was given.
    ca_bytes = tls_bundle.ca_cert.read_bytes()
    async with AsyncClient([tls_server.endpoint], ca_cert=ca_bytes) as client:
        assert (await client.get("/tls/k")).value == b"v"
        status = await client.maintenance.status(endpoint=tls_server.endpoint)
        assert status.version


async def test_client_without_the_ca_cannot_connect_and_says_why(tls_server: EtcdServer) -> None:
    client = AsyncClient([f"https://{tls_server.endpoint}"], dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        await client.connect()
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert "ca_cert" in message  # the hint
    # A call fails the same way, never over plaintext.
    with pytest.raises(ConnectionFailedError) as again:
        await client.get("/tls/k", timeout=0.5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(again.value)
    await client.close()


async def test_plaintext_client_against_tls_server_fails_with_a_hint(
    tls_server: EtcdServer,
) -> None:
    client = AsyncClient([tls_server.endpoint], dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        await client.connect()
    assert "https://" in str(caught.value)
    await client.close()


async def test_host_name_is_verified_and_server_name_overrides_it(
    tls_server: EtcdServer, tls_bundle: TlsBundle
) -> None:
    url = f"https://{tls_server.endpoint}"
    # The certificate names 127.0.0.1, ::1 and localhost, not "etcd.example".
    wrong = AsyncClient(
        [url], ca_cert=tls_bundle.ca_cert, server_name="etcd.example", dial_timeout=0.5
    )
    with pytest.raises(ConnectionFailedError) as caught:
        await wrong.connect()
    assert "server_name" in str(caught.value)
    await wrong.close()
    async with AsyncClient([url], ca_cert=tls_bundle.ca_cert, server_name="localhost") as right:
        await right.put("/tls/name", "ok")


async def test_mutual_tls(mtls_server: EtcdServer, tls_bundle: TlsBundle) -> None:
    url = f"https://{mtls_server.endpoint}"
    async with AsyncClient([url], **tls_bundle.client_kwargs()) as client:
        await client.put("/mtls/k", "v")
        assert (await client.get("/mtls/k")).value == b"v"
        # Member-targeted maintenance calls reuse the client certificate.
        status = await client.maintenance.status(endpoint=mtls_server.endpoint)
        assert status.member_id == (await client.maintenance.status()).member_id
    anonymous = AsyncClient([url], **tls_bundle.client_kwargs(client_cert=False), dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        await anonymous.connect()
    assert "cert= and key=" in str(caught.value)
    await anonymous.close()


def test_contradictory_or_broken_tls_settings_are_refused(
    tls_bundle: TlsBundle, tmp_path: Path
) -> None:
    ca = tls_bundle.ca_cert
    with pytest.raises(InvalidArgumentError, match="http://"):
        AsyncClient(["http://127.0.0.1:2379"], ca_cert=ca)
    with pytest.raises(InvalidArgumentError, match="mix"):
        AsyncClient(["http://127.0.0.1:2379", "https://127.0.0.1:2380"])
    with pytest.raises(InvalidArgumentError, match="both cert= and key="):
        AsyncClient(["127.0.0.1:2379"], ca_cert=ca, cert=tls_bundle.client_cert)
    missing = tmp_path / "missing.pem"
    with pytest.raises(InvalidArgumentError, match=r"missing\.pem"):
        AsyncClient(["127.0.0.1:2379"], ca_cert=missing)
    secret_key = b"not-a-pem-key-0123456789"
    with pytest.raises(InvalidArgumentError) as caught:
        AsyncClient(["127.0.0.1:2379"], cert=tls_bundle.client_cert, key=secret_key)
    assert "PEM" in str(caught.value) and secret_key.decode() not in str(caught.value)
