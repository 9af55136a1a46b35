# GENERATED from tests/async_/test_lease.py by scripts/unasync.py -- do not edit.
"""Leases: grant, time-to-live, list, revoke, keep-alive (once and in the background), expiry."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    Client,
    EventType,
    InvalidArgumentError,
    LeaseNotFoundError,
)


def test_grant_ttl_list_revoke(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    lease = c.lease.grant(30)
    assert lease.id > 0 and lease.ttl == 30
    c.put(etcd_key_prefix + "bound", "x", lease=lease)
    ttl = lease.time_to_live(keys=True)
    assert 0 < ttl.ttl <= 30 and ttl.granted_ttl == 30 and not ttl.expired
    assert ttl.keys == ((etcd_key_prefix + "bound").encode(),)
    assert lease.id in c.lease.leases()
    refreshed = lease.keep_alive_once()
    assert refreshed.id == lease.id and refreshed.ttl == 30
    lease.revoke()
    assert (c.get(etcd_key_prefix + "bound")).kvs == ()
    assert (c.lease.time_to_live(lease.id)).expired
    assert lease.id not in c.lease.leases()


def test_lease_context_manager_revokes(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    with c.lease.grant(30) as lease:
        c.put(etcd_key_prefix + "k", "x", lease=lease)
        assert (c.get(etcd_key_prefix + "k")).kv is not None
    assert (c.get(etcd_key_prefix + "k")).kvs == ()
    assert (c.lease.time_to_live(lease)).expired


def test_key_disappears_when_lease_expires(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "ephemeral"
    lease = c.lease.grant(1)
    rev = (c.put(key, "x", lease=lease)).header.revision
    with c.watch(key, start_revision=rev + 1) as watcher:
        response = watcher.read(timeout=lease.ttl + 5)
    assert [e.type for e in response.events] == [EventType.DELETE]
    assert (c.get(key)).kvs == ()


def test_key_survives_while_kept_alive(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "alive"
    lease = c.lease.grant(1)
    lost: list[int] = []
    lease.keep_alive(on_lost=lambda lz: lost.append(lz.id))
    assert lease.is_kept_alive
    c.put(key, "x", lease=lease)
    # Nothing may happen to the key for three TTLs: a watch that sees nothing proves it.
    with c.watch(key) as watcher:
        with pytest.raises(TimeoutError):
            watcher.read(timeout=lease.ttl * 3 + 0.5)
    assert (c.get(key)).value == b"x"
    assert lease.is_kept_alive and not lease.lost and lost == []
    lease.revoke()
    assert not lease.is_kept_alive


def test_keep_alive_reports_loss_when_revoked_elsewhere(
    etcd_client: Client,
) -> None:
    c = etcd_client
    lease = c.lease.grant(1)
    lost: list[int] = []
    lease.keep_alive(on_lost=lambda lz: lost.append(lz.id))
    c.lease.revoke(lease.id)  # by id: the keep-alive does not know
    assert lease.wait_lost(timeout=5)
    assert lease.lost and lease.lost_at is not None and lost == [lease.id]


def test_bad_lease_input(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    for ttl in (0, -5):
        with pytest.raises(InvalidArgumentError):
            c.lease.grant(ttl)
    with pytest.raises(LeaseNotFoundError):
        c.put(etcd_key_prefix + "k", "x", lease=0x7777)
    with pytest.raises(LeaseNotFoundError):
        c.lease.revoke(0x7777)
    with pytest.raises(LeaseNotFoundError):
        c.lease.keep_alive_once(0x7777)
    assert (c.get(etcd_key_prefix, prefix=True)).kvs == ()
