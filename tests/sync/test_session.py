# GENERATED from tests/async_/test_session.py by scripts/unasync.py -- do not edit.
"""Sessions: one kept-alive lease shared by recipes; loss is reported; close revokes."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    Client,
    ClientClosedError,
    InvalidArgumentError,
    RecipeError,
    Session,
)


def test_session_lifecycle(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    session = c.session(ttl=30)
    assert isinstance(session, Session) and not session.is_alive
    with pytest.raises(InvalidArgumentError):
        session.lease_id  # noqa: B018  (not started)
    with session:
        assert session.is_alive and not session.lost and session.lease.ttl == 30
        assert session.lease_id in c.lease.leases()
        c.put(etcd_key_prefix + "k", "v", lease=session.lease_id)
        assert session.start() is session  # idempotent
    assert session.lost and not session.is_alive
    assert (c.get(etcd_key_prefix + "k")).kv is None  # revoked with the lease
    assert session.wait_lost(timeout=0)
    assert session.close() is False  # already closed
    with pytest.raises(ClientClosedError):
        session.start()
    for ttl in (0, -1, 1.5):
        with pytest.raises(InvalidArgumentError):
            c.session(ttl)  # type: ignore[arg-type]


def test_close_tells_whether_the_lease_was_still_there(
    etcd_client: Client,
) -> None:
    c = etcd_client
    alive = c.session(30).start()
    assert alive.close() is True
    gone = c.session(30).start()
    c.lease.revoke(gone.lease_id)  # behind its back: the keep-alive does not know yet
    assert gone.close() is False


def test_loss_is_reported_once_to_callbacks(etcd_client: Client) -> None:
    c = etcd_client
    session = c.session(1).start()
    seen: list[str] = []
    session.add_lost_callback(lambda s: seen.append("kept"))
    removed = lambda s: seen.append("removed")  # noqa: E731
    session.add_lost_callback(removed)
    session.remove_lost_callback(removed)
    assert not session.wait_lost(timeout=0.05)
    c.lease.revoke(session.lease_id)  # as if it expired
    assert session.wait_lost(timeout=5)
    assert session.lost and not session.is_alive and seen == ["kept"]
    session.add_lost_callback(lambda s: seen.append("late"))  # called at once
    assert seen == ["kept", "late"]
    session.close()


def test_session_outlives_its_ttl_while_kept_alive(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    key = etcd_key_prefix + "alive"
    with c.session(1) as session:
        revision = (c.put(key, "x", lease=session.lease_id)).header.revision
        # An unrefreshed 1 s lease is gone within 1.5 s (etcd checks expiry every 0.5 s):
        # a watch that sees nothing for 1.6 s proves the keep-alive works.
        with c.watch(key, start_revision=revision + 1) as watcher:
            with pytest.raises(TimeoutError):
                watcher.read(timeout=1.6)
        assert session.is_alive and (c.get(key)).value == b"x"


def test_one_key_per_session(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    with c.session(30) as session:
        first = c.lock(etcd_key_prefix + "m", session=session)
        second = c.lock(etcd_key_prefix + "m", session=session)
        other = c.lock(etcd_key_prefix + "other", session=session)
        assert first.acquire()
        with pytest.raises(RecipeError, match="already used"):
            second.acquire()  # the same key: both would believe they hold it
        assert other.acquire()
        first.release()
        assert second.acquire()  # free again
        second.release()
        other.release()
        assert session.is_alive  # a shared session outlives the locks
