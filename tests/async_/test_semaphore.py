"""Semaphore: at most ``limit`` holders, admitted in arrival order."""

from __future__ import annotations

import pytest

from etcd_recipes import AsyncClient, AsyncSemaphore, EtcdError, LockTimeoutError

from .helpers import Outcome, wait_count


async def test_at_most_limit_holders_in_arrival_order(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    name = etcd_key_prefix + "slots"
    first, second = c.semaphore(name, 2), c.semaphore(name, 2)
    assert isinstance(first, AsyncSemaphore)
    assert await first.acquire(blocking=False) and await second.acquire(blocking=False)
    assert [kv.key for kv in await first.holders()] == [first.key, second.key]
    assert not await c.semaphore(name, 2).acquire(timeout=0.1)
    third, fourth = c.semaphore(name, 2), c.semaphore(name, 2)
    waiting_third = Outcome(third.acquire, True, 10)
    await wait_count(c, name + "/", 3)
    waiting_fourth = Outcome(fourth.acquire, True, 10)
    await wait_count(c, name + "/", 4)
    await second.release()  # a slot: the oldest waiter gets it, not the newest
    assert await waiting_third.wait() is True
    assert not waiting_fourth.done.is_set()
    await first.release()
    assert await waiting_fourth.wait() is True
    assert [kv.key for kv in await third.holders()] == [third.key, fourth.key]
    with pytest.raises(LockTimeoutError):
        async with c.semaphore(name, 2, timeout=0.1):
            pass
    await third.release()
    await fourth.release()
    assert (await c.get(name + "/", prefix=True)).kvs == ()


async def test_limit_must_be_positive(etcd_async_client: AsyncClient) -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(EtcdError):
            etcd_async_client.semaphore("s", bad)  # type: ignore[arg-type]
