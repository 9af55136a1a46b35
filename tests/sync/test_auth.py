# GENERATED from tests/async_/test_auth.py by scripts/unasync.py -- do not edit.
"""Authentication against a real etcd with auth enabled (and a 1 s simple-token TTL): tokens
on every call and stream, transparent renewal, permissions, the Auth API, no leaked secrets."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest

from etcd_recipes import (
    AuthFailedError,
    Client,
    ClusterError,
    EtcdError,
    InvalidArgumentError,
    Op,
    PermissionDeniedError,
    PermissionType,
)
from etcd_recipes._sync import _backend as backend
from etcd_recipes._sync.auth import AuthConnection
from etcd_recipes.testing import EtcdServer

ROOT_PASSWORD = "root-Pw-7f3a9c"
APP_PASSWORD = "app-Pw-51b2e8"
OTHER_PASSWORD = "other-Pw-c0ffee"
TOKEN_TTL = 1  # seconds; etcd drops idle simple tokens on a 1 s tick


@pytest.fixture(scope="module")
def auth_server() -> Iterator[EtcdServer]:
    """etcd with auth on: root, and user "app" whose role may read and write /app/ only."""
    with EtcdServer(fsync=False, auth_token_ttl=TOKEN_TTL) as server:
        with Client(server.endpoints) as admin:
            admin.auth.user_add("root", ROOT_PASSWORD)
            admin.auth.user_grant_role("root", "root")
            admin.auth.role_add("app-rw")
            admin.auth.role_grant_permission(
                "app-rw", "/app/", PermissionType.READWRITE, prefix=True
            )
            admin.auth.user_add("app", APP_PASSWORD)
            admin.auth.user_grant_role("app", "app-rw")
            admin.auth.enable()
        yield server


def _conn(client: Client) -> AuthConnection:
    conn = client._conn
    assert isinstance(conn, AuthConnection)
    return conn


def _token(client: Client) -> str:
    metadata = _conn(client).metadata
    assert metadata is not None
    return dict(metadata)["token"]


def test_wrong_password_raises_auth_failed(auth_server: EtcdServer) -> None:
    client = Client(auth_server.endpoints, username="app", password="not-the-password")
    with pytest.raises(AuthFailedError):
        client.connect()
    with pytest.raises(AuthFailedError):  # lazily, on the first call, too
        client.get("/app/k")
    client.close()
    unknown = Client(auth_server.endpoints, username="nobody", password="x")
    with pytest.raises(AuthFailedError):
        unknown.get("/app/k")
    unknown.close()
    with pytest.raises(InvalidArgumentError):
        Client(auth_server.endpoints, username="app")


def test_role_limited_to_prefix_reads_and_writes_there_only(
    auth_server: EtcdServer,
) -> None:
    with (
        Client(auth_server.endpoints, username="root", password=ROOT_PASSWORD) as root,
        Client(auth_server.endpoints, username="app", password=APP_PASSWORD) as app,
    ):
        with app.watch("/app/", prefix=True) as watcher:  # the stream carries the token
            app.put("/app/k", "v1")
            assert [e.value for e in watcher.events(timeout=5)] == [b"v1"]
        assert (app.get("/app/k")).value == b"v1"
        with app.lease.grant(30) as lease:
            lease.keep_alive_once()
            app.put("/app/leased", "x", lease=lease)
        with pytest.raises(PermissionDeniedError):
            app.put("/other/k", "v")
        with pytest.raises(PermissionDeniedError):
            app.get("/other/k")
        with pytest.raises(PermissionDeniedError):
            app.delete("/other/", prefix=True)
        with pytest.raises(PermissionDeniedError) as denied:
            app.txn().then(Op.put("/app/t", "x"), Op.put("/other/t", "x")).commit()
        assert not denied.value.outcome_unknown
        # Refused at once (etcd 3.4 answers with watch_id -1, 3.5 with the watch's own id).
        started = backend.monotonic()
        with pytest.raises(PermissionDeniedError):
            with app.watch("/other/", timeout=5) as refused:
                refused.read(timeout=5)
        assert backend.monotonic() - started < 2.5
        with app.watch("/app/", prefix=True) as again:  # the stream still serves others
            app.put("/app/k2", "v2")
            assert [e.value for e in again.events(timeout=5)] == [b"v2"]
        # Nothing was written outside /app/ (and the refused txn wrote nothing at all).
        assert (root.get("/other/", prefix=True)).kvs == ()
        assert (root.get("/app/t")).kvs == ()
        assert (root.get("/app/k")).value == b"v1"


def test_expired_token_is_renewed_once_transparently(auth_server: EtcdServer) -> None:
    with Client(auth_server.endpoints, username="app", password=APP_PASSWORD) as app:
        conn = _conn(app)
        app.put("/app/expiry", "1")
        assert conn.authentications == 1
        first = _token(app)
        # etcd forgets a simple token TTL..TTL+1 s after its last use; nothing to await.
        backend.sleep(TOKEN_TTL + 1.3)
        assert (app.get("/app/expiry")).value == b"1"
        assert conn.authentications == 2
        assert _token(app) != first


def test_renewal_happens_once_and_failure_is_raised(auth_server: EtcdServer) -> None:
    with Client(auth_server.endpoints, username="root", password=ROOT_PASSWORD) as root:
        root.auth.user_add("temp", "temp-pw")
        root.auth.user_grant_role("temp", "app-rw")
        temp = Client(auth_server.endpoints, username="temp", password="temp-pw")
        temp.put("/app/temp", "1")
        # etcd drops the user's tokens when its password changes: the renewal uses the old
        # password and fails; the call raises after exactly one attempt (no loop).
        root.auth.user_change_password("temp", "temp-pw-2")
        with pytest.raises(AuthFailedError):
            temp.get("/app/temp")
        assert _conn(temp).authentications == 1
        temp.close()
        # A user changing its own password through this client keeps working.
        root.auth.user_grant_role("temp", "root")
        with Client(auth_server.endpoints, username="temp", password="temp-pw-2") as own:
            own.auth.user_change_password("temp", "temp-pw-3")
            assert (own.get("/app/temp")).value == b"1"
            assert _conn(own).authentications == 2
        root.auth.user_delete("temp")


def test_auth_api_users_roles_permissions(auth_server: EtcdServer) -> None:
    with Client(auth_server.endpoints, username="root", password=ROOT_PASSWORD) as root:
        auth = root.auth
        status = auth.status()
        assert status.enabled
        assert status.auth_revision is None or status.auth_revision > 0  # None on etcd 3.4
        auth.role_add("reader")
        auth.role_grant_permission("reader", "/r/", "read", prefix=True)
        auth.role_grant_permission("reader", "/w", PermissionType.WRITE)
        auth.role_grant_permission("reader", "/a", PermissionType.READ, range_end="/c")
        role = auth.role_get("reader")
        by_key = {p.key: p for p in role.permissions}
        assert by_key[b"/r/"].type is PermissionType.READ and by_key[b"/r/"].prefix
        assert by_key[b"/w"].type is PermissionType.WRITE and by_key[b"/w"].range_end == b""
        assert by_key[b"/a"].range_end == b"/c" and not by_key[b"/a"].prefix
        auth.role_revoke_permission("reader", "/w")
        assert {p.key for p in (auth.role_get("reader")).permissions} == {b"/r/", b"/a"}
        assert "reader" in auth.role_list()

        auth.user_add("bob", "bob-pw")
        auth.user_grant_role("bob", "reader")
        assert (auth.user_get("bob")).roles == ("reader",)
        assert {"bob", "root", "app"} <= set(auth.user_list())
        auth.user_revoke_role("bob", "reader")
        assert (auth.user_get("bob")).roles == ()

        with pytest.raises(ClusterError):
            auth.user_add("bob", "again")
        with pytest.raises(ClusterError):
            auth.user_get("no-such-user")
        with pytest.raises(ClusterError):
            auth.role_revoke_permission("reader", "/never-granted")
        with pytest.raises(ClusterError):
            auth.user_delete("root")  # etcd refuses while auth is on
        with pytest.raises(InvalidArgumentError):
            auth.user_add("", "pw")
        with pytest.raises(InvalidArgumentError):
            auth.role_grant_permission("reader", "/x", "everything")

        auth.user_delete("bob")
        auth.role_delete("reader")
        assert "bob" not in auth.user_list()
        assert "reader" not in auth.role_list()

    with Client(auth_server.endpoints, username="app", password=APP_PASSWORD) as app:
        with pytest.raises(PermissionDeniedError):
            app.auth.user_list()


def test_disable_and_enable(auth_server: EtcdServer) -> None:
    with Client(auth_server.endpoints, username="root", password=ROOT_PASSWORD) as root:
        root.auth.disable()
        try:
            assert not (root.auth.status()).enabled
            # Credentials for a cluster without auth are fine: no token is sent.
            with Client(auth_server.endpoints, username="app", password=APP_PASSWORD) as app:
                app.put("/anything", "x")
                assert _conn(app).metadata is None
        finally:
            root.auth.enable()
        # The client authenticates again before its next call.
        assert (root.auth.status()).enabled
        assert (root.get("/anything")).value == b"x"


def test_passwords_and_tokens_never_appear_in_logs_errors_or_reprs(
    auth_server: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    tokens: set[str] = set()

    def record(error: BaseException) -> None:
        texts.append(str(error))
        texts.append(repr(error))
        texts.append("".join(traceback.format_exception(error)))

    bad = Client(auth_server.endpoints, username="app", password=APP_PASSWORD + "-wrong")
    try:
        bad.connect()
    except EtcdError as error:
        record(error)
    texts.append(repr(bad))
    bad.close()

    with (
        Client(auth_server.endpoints, username="root", password=ROOT_PASSWORD) as root,
        Client(auth_server.endpoints, username="app", password=APP_PASSWORD) as app,
    ):
        tokens.add(_token(root))
        tokens.add(_token(app))
        try:
            app.put("/other/k", "v")
        except EtcdError as error:
            record(error)
        try:
            root.auth.user_add("app", OTHER_PASSWORD)
        except EtcdError as error:
            record(error)
        # Force a renewal: etcd drops app's tokens when its password is (re)set.
        root.auth.user_change_password("app", APP_PASSWORD)
        assert (app.get("/app/k")).kvs is not None
        tokens.add(_token(app))
        texts += [repr(app), repr(app._conn), repr(app.auth), repr(app.maintenance), str(app)]
    texts += [entry.getMessage() for entry in caplog.records]
    texts += [repr(entry.args) for entry in caplog.records]
    assert len(tokens) == 3
    assert any("authenticat" in t for t in texts)  # the logs did say something
    blob = "\n".join(texts)
    for secret in (ROOT_PASSWORD, APP_PASSWORD, OTHER_PASSWORD, *tokens):
        assert secret not in blob
