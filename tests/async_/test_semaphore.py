"""Semaphore: at most ``limit`` holders, admitted in arrival order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from etcd_recipes import AsyncClient, AsyncSemaphore, EtcdError, LockTimeoutError
from etcd_recipes._async import _backend as backend


class Outcome:
    """Runs a call in the background (a task / a thread); ``done`` is set when it returns."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = backend.Event()
        self.task = backend.spawn(self._run, func, *args)

    async def _run(self, func: Callable[..., Any], *args: Any) -> None:
        try:
            self.result = await func(*args)
        except BaseException as error:  # kept for wait()
            self.error = error
        finally:
            self.done.set()

    async def wait(self, timeout: float = 5) -> Any:
        assert await backend.wait_event(self.done, timeout), "the call did not return in time"
        if self.error is not None:
            raise self.error
        return self.result


async def wait_count(client: AsyncClient, prefix: str, count: int, timeout: float = 5) -> None:
    """Wait (bounded) until exactly ``count`` keys exist under ``prefix``."""
    deadline = time.monotonic() + timeout
    response = await client.get(prefix, prefix=True, count_only=True)
    async with client.watch(prefix, prefix=True, start_revision=response.header.revision + 1) as w:
        while (await client.get(prefix, prefix=True, count_only=True)).count != count:
            await w.read(max(deadline - time.monotonic(), 0.01))


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
