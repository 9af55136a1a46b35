"""Leases: grant, time-to-live, list, revoke, keep-alive (once and in the background), expiry."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    AsyncClient,
    EventType,
    InvalidArgumentError,
    LeaseNotFoundError,
)


async def test_grant_ttl_list_revoke(etcd_async_client: AsyncClient, etcd_key_prefix: str) -> None:
    c = etcd_async_client
    lease = await c.lease.grant(30)
    assert lease.id > 0 and lease.ttl == 30
    await c.put(etcd_key_prefix + "bound", "x", lease=lease)
    ttl = await lease.time_to_live(keys=True)
    assert 0 < ttl.ttl <= 30 and ttl.granted_ttl == 30 and not ttl.expired
    assert ttl.keys == ((etcd_key_prefix + "bound").encode(),)
    assert lease.id in await c.lease.leases()
    refreshed = await lease.keep_alive_once()
    assert refreshed.id == lease.id and refreshed.ttl == 30
    await lease.revoke()
    assert (await c.get(etcd_key_prefix + "bound")).kvs == ()
    assert (await c.lease.time_to_live(lease.id)).expired
    assert lease.id not in await c.lease.leases()


async def test_lease_context_manager_revokes(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    async with await c.lease.grant(30) as lease:
        await c.put(etcd_key_prefix + "k", "x", lease=lease)
        assert (await c.get(etcd_key_prefix + "k")).kv is not None
    assert (await c.get(etcd_key_prefix + "k")).kvs == ()
    assert (await c.lease.time_to_live(lease)).expired


async def test_key_disappears_when_lease_expires(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "ephemeral"
    lease = await c.lease.grant(1)
    rev = (await c.put(key, "x", lease=lease)).header.revision
    async with c.watch(key, start_revision=rev + 1) as watcher:
        response = await watcher.read(timeout=lease.ttl + 5)
    assert [e.type for e in response.events] == [EventType.DELETE]
    assert (await c.get(key)).kvs == ()


async def test_key_survives_while_kept_alive(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "alive"
    lease = await c.lease.grant(1)
    lost: list[int] = []
    await lease.keep_alive(on_lost=lambda lz: lost.append(lz.id))
    assert lease.is_kept_alive
    await c.put(key, "x", lease=lease)
    # Nothing may happen to the key for three TTLs: a watch that sees nothing proves it.
    async with c.watch(key) as watcher:
        with pytest.raises(TimeoutError):
            await watcher.read(timeout=lease.ttl * 3 + 0.5)
    assert (await c.get(key)).value == b"x"
    assert lease.is_kept_alive and not lease.lost and lost == []
    await lease.revoke()
    assert not lease.is_kept_alive


async def test_keep_alive_reports_loss_when_revoked_elsewhere(
    etcd_async_client: AsyncClient,
) -> None:
    c = etcd_async_client
    lease = await c.lease.grant(1)
    lost: list[int] = []
    await lease.keep_alive(on_lost=lambda lz: lost.append(lz.id))
    await c.lease.revoke(lease.id)  # by id: the keep-alive does not know
    assert await lease.wait_lost(timeout=5)
    assert lease.lost and lease.lost_at is not None and lost == [lease.id]


async def test_bad_lease_input(etcd_async_client: AsyncClient, etcd_key_prefix: str) -> None:
    c = etcd_async_client
    for ttl in (0, -5):
        with pytest.raises(InvalidArgumentError):
            await c.lease.grant(ttl)
    with pytest.raises(LeaseNotFoundError):
        await c.put(etcd_key_prefix + "k", "x", lease=0x7777)
    with pytest.raises(LeaseNotFoundError):
        await c.lease.revoke(0x7777)
    with pytest.raises(LeaseNotFoundError):
        await c.lease.keep_alive_once(0x7777)
    assert (await c.get(etcd_key_prefix, prefix=True)).kvs == ()
