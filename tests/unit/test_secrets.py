"""Secrets and TLS settings without etcd: passwords never show, PEM handling, hints, types."""

from __future__ import annotations

import pickle
from pathlib import Path

import grpc
import pytest

from etcd_recipes import (
    AsyncClient,
    Client,
    InvalidArgumentError,
    Member,
    MemberAddResponse,
    Permission,
    PermissionType,
    ResponseHeader,
)
from etcd_recipes._core.admin import Secret, peer_url_list, permission_range
from etcd_recipes._core.tls import channel_security, load_pem, tls_hint

PASSWORD = "hunter2-unit-7e1"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_secret_never_shows_its_value() -> None:
    secret = Secret(PASSWORD)
    assert secret.reveal() == PASSWORD
    for text in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"p": secret})):
        assert PASSWORD not in text
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_client_with_credentials_hides_the_password() -> None:
    client = Client(["127.0.0.1:1"], username="app", password=PASSWORD)
    try:
        texts = [repr(client), repr(client._conn), repr(vars(client._conn)), repr(client.auth)]
        assert all(PASSWORD not in t for t in texts)
        assert "app" in repr(client._conn)
    finally:
        client.close()


def test_credentials_must_come_in_pairs() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Client(["127.0.0.1:1"], password=PASSWORD)
    assert PASSWORD not in str(caught.value)
    with pytest.raises(InvalidArgumentError):
        Client(["127.0.0.1:1"], username="app")
    with pytest.raises(InvalidArgumentError):
        Client(["127.0.0.1:1"], username="", password="x")
    with pytest.raises(InvalidArgumentError) as typed:
        Client(["127.0.0.1:1"], username="app", password=b"bytes-pw")  # type: ignore[arg-type]
    assert "bytes-pw" not in str(typed.value)


def test_load_pem_from_path_bytes_and_text(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(PEM)
    assert load_pem(path, "ca_cert") == PEM
    assert load_pem(str(path), "ca_cert") == PEM
    assert load_pem(PEM, "ca_cert") == PEM
    assert load_pem(PEM.decode(), "ca_cert") == PEM
    with pytest.raises(InvalidArgumentError, match=r"nope\.pem"):
        load_pem(tmp_path / "nope.pem", "ca_cert")
    secret = b"private-key-material-42"
    with pytest.raises(InvalidArgumentError) as caught:
        load_pem(secret, "key")
    assert "key is not PEM" in str(caught.value) and "private-key" not in str(caught.value)
    with pytest.raises(InvalidArgumentError):
        load_pem(42, "ca_cert")  # type: ignore[arg-type]


def test_channel_security_decisions() -> None:
    assert channel_security(["127.0.0.1:2379"]) == (None, [])
    assert channel_security("http://a:1,http://b:2")[0] is None
    creds, options = channel_security(["https://127.0.0.1:2379"])
    assert isinstance(creds, grpc.ChannelCredentials) and options == []
    creds, options = channel_security(["10.0.0.1:2379"], ca_cert=PEM, server_name="etcd.local")
    assert creds is not None
    assert ("grpc.ssl_target_name_override", "etcd.local") in options
    mine = grpc.ssl_channel_credentials()
    assert channel_security(["h:1"], credentials=mine)[0] is mine
    for bad in (
        {"ca_cert": PEM, "credentials": mine},
        {"cert": PEM},
        {"key": PEM},
        {"server_name": ""},
    ):
        with pytest.raises(InvalidArgumentError):
            channel_security(["h:1"], **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        channel_security(["http://h:1"], server_name="x")
    with pytest.raises(InvalidArgumentError):
        AsyncClient(["https://h:1", "http://h:2"])


def test_tls_hints() -> None:
    assert "ca_cert" in (tls_hint("...CERTIFICATE_VERIFY_FAILED: unable...", tls=True) or "")
    assert "server_name" in (tls_hint("Hostname Verification Check failed.", tls=True) or "")
    assert "cert=" in (tls_hint("SSLV3_ALERT_BAD_CERTIFICATE", tls=True) or "")
    assert "plain" in (tls_hint("Handshake read failed (Socket closed)", tls=True) or "")
    assert "https://" in (tls_hint("ipv4:1.2.3.4:1: Socket closed", tls=False) or "")
    assert tls_hint("Connection refused", tls=True) is None


def test_admin_helpers() -> None:
    assert permission_range("/app/", prefix=True) == (b"/app/", b"/app0")
    assert permission_range("", prefix=True) == (b"\0", b"\0")
    assert permission_range("/a", range_end="/c") == (b"/a", b"/c")
    assert permission_range("/k") == (b"/k", b"")
    with pytest.raises(InvalidArgumentError):
        permission_range("/a", prefix=True, range_end="/b")
    assert Permission(PermissionType.READ, b"/app/", b"/app0").prefix
    assert Permission(PermissionType.READ, b"\0", b"\0").prefix
    assert not Permission(PermissionType.READ, b"/a", b"/c").prefix
    assert PermissionType.parse("readwrite") is PermissionType.READWRITE
    assert PermissionType.parse(PermissionType.READ) is PermissionType.READ
    with pytest.raises(InvalidArgumentError):
        PermissionType.parse("admin")
    assert peer_url_list("http://a:1,http://b:2") == ["http://a:1", "http://b:2"]
    for bad in ("", "a:1", ["http://a:1", ""]):
        with pytest.raises(InvalidArgumentError):
            peer_url_list(bad)


def test_member_add_response_initial_cluster() -> None:
    header = ResponseHeader(1, 2, 3, 4)
    old = Member(1, "m0", ("http://127.0.0.1:1",), ("http://127.0.0.1:2",), False)
    new = Member(9, "", ("http://127.0.0.1:5",), (), True)
    added = MemberAddResponse(header, new, (old, new))
    assert added.initial_cluster("m1") == "m0=http://127.0.0.1:1,m1=http://127.0.0.1:5"
    assert not new.started and old.started
    assert "0x9" in repr(new) and "learner" in repr(new)


def test_make_tls_files_and_issue(tmp_path: Path) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    from etcd_recipes.testing import make_tls_files

    bundle = make_tls_files(tmp_path, client_name="alice")
    server = x509.load_pem_x509_certificate(bundle.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert (bundle.client_key.stat().st_mode & 0o777) == 0o600
    assert bundle.client_kwargs(client_cert=False) == {"ca_cert": str(bundle.ca_cert)}
    assert "--trusted-ca-file" not in " ".join(bundle.server_files().etcd_args())
    assert "--client-cert-auth" in bundle.server_files(client_cert_auth=True).etcd_args()
    cert, key = bundle.issue("etcd.test", hosts=["etcd.test", "10.1.2.3"], server=True)
    issued = x509.load_pem_x509_certificate(cert.read_bytes())
    assert issued.issuer == server.issuer and key.exists()
    assert channel_security(["h:1"], ca_cert=bundle.ca_cert, cert=cert, key=key)[0] is not None
