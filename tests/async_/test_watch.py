"""Watches: events with prev_kv, prefixes, start revisions, filters, progress, compaction."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    AsyncClient,
    CompactedError,
    EventType,
    InvalidArgumentError,
    WatchFilter,
)


async def test_watch_sees_put_then_delete_with_prev_kv(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "job/v3/1"
    async with c.watch(key, prev_kv=True) as watcher:
        await c.put(key, "a")
        await c.put(key, "b")
        await c.delete(key)
        events = []
        while len(events) < 3:
            events += (await watcher.read(timeout=5)).events
    assert [(e.type, e.value) for e in events] == [
        (EventType.PUT, b"a"),
        (EventType.PUT, b"b"),
        (EventType.DELETE, b""),
    ]
    assert events[0].prev_kv is None
    assert events[1].prev_kv is not None and events[1].prev_kv.value == b"a"
    assert events[2].prev_kv is not None and events[2].prev_kv.value == b"b"
    assert events[0].revision < events[1].revision < events[2].revision


async def test_watch_resumes_from_a_start_revision(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    revs = [(await c.put(f"{etcd_key_prefix}p/{i}", str(i))).header.revision for i in range(4)]
    async with c.watch(etcd_key_prefix + "p/", prefix=True, start_revision=revs[1]) as watcher:
        events = []
        while len(events) < 3:
            events += (await watcher.read(timeout=5)).events
    assert [e.revision for e in events] == revs[1:]
    assert [e.value for e in events] == [b"1", b"2", b"3"]


async def test_iteration_and_cancel(etcd_async_client: AsyncClient, etcd_key_prefix: str) -> None:
    c = etcd_async_client
    watcher = c.watch(etcd_key_prefix, prefix=True)
    await watcher.start()
    await c.put(etcd_key_prefix + "x", "1")
    seen = []
    async for response in watcher:
        seen += [e.key for e in response.events]
        await watcher.cancel()
    assert seen == [(etcd_key_prefix + "x").encode()]


async def test_filters_drop_event_types(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "f"
    async with c.watch(key, filters=[WatchFilter.NOPUT]) as watcher:
        await c.put(key, "1")
        await c.delete(key)
        response = await watcher.read(timeout=5)
    assert [e.type for e in response.events] == [EventType.DELETE]


async def test_many_watches_share_one_stream(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    watchers = [await c.watch(f"{etcd_key_prefix}{i}").start() for i in range(20)]
    for i in range(20):
        await c.put(f"{etcd_key_prefix}{i}", str(i))
    for i, watcher in enumerate(watchers):
        events = (await watcher.read(timeout=5)).events
        assert [e.value for e in events] == [str(i).encode()]
        await watcher.cancel()


async def test_progress_notification_reports_current_revision(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    rev = (await c.put(etcd_key_prefix + "other", "x")).header.revision
    async with c.watch(etcd_key_prefix + "quiet") as watcher:
        await watcher.request_progress()
        response = await watcher.read(timeout=5)
    assert response.progress_notify and response.events == ()
    assert response.header.revision >= rev


async def test_compacted_start_revision_raises_with_compact_revision(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "c"
    old = (await c.put(key, "1")).header.revision
    now = (await c.put(key, "2")).header.revision
    await c.compact(now)
    with pytest.raises(CompactedError) as caught:
        async with c.watch(key, start_revision=old) as watcher:
            await watcher.read(timeout=5)
    assert caught.value.compact_revision == now


async def test_bad_watch_input(etcd_async_client: AsyncClient) -> None:
    with pytest.raises(InvalidArgumentError):
        etcd_async_client.watch("")
    with pytest.raises(InvalidArgumentError):
        etcd_async_client.watch("/k", start_revision=-1)
