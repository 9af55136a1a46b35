"""Read-write lock: readers share, writers exclude, writers are not starved by readers."""

from __future__ import annotations

import pytest

from etcd_recipes import AsyncClient, AsyncRWLock, LockTimeoutError

from .helpers import Outcome, wait_count


async def test_readers_share_writers_wait(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    name = etcd_key_prefix + "catalog"
    rw = c.rwlock(name)
    assert isinstance(rw, AsyncRWLock)
    first, second = rw.read(), rw.read()
    assert await first.acquire(blocking=False) and await second.acquire(blocking=False)
    assert first.key is not None and first.key.startswith(f"{name}/read/".encode())
    writer = rw.write()
    assert not await writer.acquire(blocking=False)
    pending = Outcome(writer.acquire, True, 10)
    await wait_count(c, name + "/", 3)
    await first.release()
    assert not pending.done.is_set()  # one reader still holds it
    await second.release()
    assert await pending.wait() is True
    assert writer.key is not None and writer.key.startswith(f"{name}/write/".encode())
    with pytest.raises(LockTimeoutError):
        async with rw.read(timeout=0.1):
            pass
    with pytest.raises(LockTimeoutError):
        async with rw.write(timeout=0.1):
            pass
    await writer.release()
    assert (await c.get(name + "/", prefix=True)).kvs == ()


async def test_writer_is_not_starved_by_later_readers(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    name = etcd_key_prefix + "rw"
    rw = c.rwlock(name, timeout=10)
    reader = rw.read()
    assert await reader.acquire()
    writer = rw.write()
    waiting_writer = Outcome(writer.acquire)
    await wait_count(c, name + "/", 2)
    late_reader = rw.read()
    assert not await late_reader.acquire(timeout=0.2)  # queued behind the waiting writer
    waiting_reader = Outcome(late_reader.acquire)
    await wait_count(c, name + "/", 3)
    await reader.release()
    assert await waiting_writer.wait() is True
    assert not waiting_reader.done.is_set()
    await writer.release()
    assert await waiting_reader.wait() is True
    await late_reader.release()


async def test_writers_exclude_each_other(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    rw = etcd_async_client.rwlock(etcd_key_prefix + "w")
    async with rw.write() as first:
        token = first.fencing_token
        assert not await rw.write().acquire(timeout=0.1)
        assert not await rw.read().acquire(blocking=False)
    async with rw.write() as second:
        assert second.fencing_token > token
