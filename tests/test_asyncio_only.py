"""What only asyncio has: task cancellation. (Threads cannot be cancelled, so these tests are
not generated into tests/sync; everything else is shared by both flavours.)"""

from __future__ import annotations

import asyncio

import pytest

from etcd_recipes import AsyncClient, EventType
from etcd_recipes._async import _backend


async def test_cancelled_acquire_deletes_its_key_and_lease(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    name = etcd_key_prefix + "cancel"
    holder = c.lock(name)
    assert await holder.acquire()
    async with c.watch(name + "/", prefix=True) as contenders:
        waiter = c.lock(name)
        task = asyncio.create_task(waiter.acquire())
        joined = await contenders.read(timeout=5)  # the waiter's key appears
        assert [e.type for e in joined.events] == [EventType.PUT]
        session = waiter.session
        assert session is not None
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done and task.cancelled()
        left = await contenders.read(timeout=5)  # ... and is deleted again
        assert [e.type for e in left.events] == [EventType.DELETE]
        assert left.events[0].key == joined.events[0].key
    assert (await c.lease.time_to_live(session.lease_id)).expired
    assert waiter.session is None and not waiter.held
    assert [kv.key for kv in (await c.get(name + "/", prefix=True)).kvs] == [holder.key]
    await holder.release()


async def test_cancelled_watch_read_leaves_the_watch_usable(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    async with c.watch(etcd_key_prefix, prefix=True) as watcher:
        reading = asyncio.create_task(watcher.read())
        await asyncio.sleep(0)  # let it start waiting
        reading.cancel()
        await asyncio.wait([reading], timeout=5)
        await c.put(etcd_key_prefix + "k", "v")
        response = await watcher.read(timeout=5)
    assert [e.value for e in response.events] == [b"v"]


async def test_cancelled_task_reading_the_stream_itself_leaves_the_watch_usable(
    etcd_async_client: AsyncClient, etcd_key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task iterating a watcher alone on the stream may read the stream itself (off by
    default under asyncio); cancelling it cancels that read (and grpc.aio the stream): the
    watch resumes on a new stream."""
    monkeypatch.setattr(_backend, "CONSUMER_READS_WATCH_STREAM", True)
    c = etcd_async_client
    hub = c._watch_hub
    seen: asyncio.Queue[bytes] = asyncio.Queue()

    async def iterate() -> None:
        async for response in watcher:
            for event in response.events:
                seen.put_nowait(event.value)

    async with c.watch(etcd_key_prefix, prefix=True) as watcher:
        reading = asyncio.create_task(iterate())
        for i in range(3):
            await c.put(f"{etcd_key_prefix}{i}", str(i))
            assert await asyncio.wait_for(seen.get(), 5) == str(i).encode()
        reads, opened = hub._direct_reads, hub.streams_opened
        await c.put(f"{etcd_key_prefix}3", "3")
        assert await asyncio.wait_for(seen.get(), 5) == b"3"
        assert hub._direct_reads > reads  # the task read the stream itself
        reading.cancel()
        await asyncio.wait([reading], timeout=5)
        assert reading.cancelled()
        await c.put(f"{etcd_key_prefix}4", "4")
        response = await watcher.read(timeout=5)
        assert [e.value for e in response.events] == [b"4"]
        assert hub.streams_opened == opened + 1
