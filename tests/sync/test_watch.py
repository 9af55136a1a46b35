# GENERATED from tests/async_/test_watch.py by scripts/unasync.py -- do not edit.
"""Watches: events with prev_kv, prefixes, start revisions, filters, progress, compaction."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    Client,
    CompactedError,
    EventType,
    InvalidArgumentError,
    WatchFilter,
)


def test_watch_sees_put_then_delete_with_prev_kv(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "job/v3/1"
    with c.watch(key, prev_kv=True) as watcher:
        c.put(key, "a")
        c.put(key, "b")
        c.delete(key)
        events = []
        while len(events) < 3:
            events += (watcher.read(timeout=5)).events
    assert [(e.type, e.value) for e in events] == [
        (EventType.PUT, b"a"),
        (EventType.PUT, b"b"),
        (EventType.DELETE, b""),
    ]
    assert events[0].prev_kv is None
    assert events[1].prev_kv is not None and events[1].prev_kv.value == b"a"
    assert events[2].prev_kv is not None and events[2].prev_kv.value == b"b"
    assert events[0].revision < events[1].revision < events[2].revision


def test_watch_resumes_from_a_start_revision(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    revs = [(c.put(f"{etcd_key_prefix}p/{i}", str(i))).header.revision for i in range(4)]
    with c.watch(etcd_key_prefix + "p/", prefix=True, start_revision=revs[1]) as watcher:
        events = []
        while len(events) < 3:
            events += (watcher.read(timeout=5)).events
    assert [e.revision for e in events] == revs[1:]
    assert [e.value for e in events] == [b"1", b"2", b"3"]


def test_iteration_and_cancel(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    watcher = c.watch(etcd_key_prefix, prefix=True)
    watcher.start()
    c.put(etcd_key_prefix + "x", "1")
    seen = []
    for response in watcher:
        seen += [e.key for e in response.events]
        watcher.cancel()
    assert seen == [(etcd_key_prefix + "x").encode()]


def test_filters_drop_event_types(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "f"
    with c.watch(key, filters=[WatchFilter.NOPUT]) as watcher:
        c.put(key, "1")
        c.delete(key)
        response = watcher.read(timeout=5)
    assert [e.type for e in response.events] == [EventType.DELETE]


def test_many_watches_share_one_stream(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    watchers = [c.watch(f"{etcd_key_prefix}{i}").start() for i in range(20)]
    for i in range(20):
        c.put(f"{etcd_key_prefix}{i}", str(i))
    for i, watcher in enumerate(watchers):
        events = (watcher.read(timeout=5)).events
        assert [e.value for e in events] == [str(i).encode()]
        watcher.cancel()


def test_progress_notification_reports_current_revision(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    rev = (c.put(etcd_key_prefix + "other", "x")).header.revision
    with c.watch(etcd_key_prefix + "quiet") as watcher:
        watcher.request_progress()
        response = watcher.read(timeout=5)
    assert response.progress_notify and response.events == ()
    assert response.header.revision >= rev


def test_compacted_start_revision_raises_with_compact_revision(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    key = etcd_key_prefix + "c"
    old = (c.put(key, "1")).header.revision
    now = (c.put(key, "2")).header.revision
    c.compact(now)
    with pytest.raises(CompactedError) as caught:
        with c.watch(key, start_revision=old) as watcher:
            watcher.read(timeout=5)
    assert caught.value.compact_revision == now


def test_bad_watch_input(etcd_client: Client) -> None:
    with pytest.raises(InvalidArgumentError):
        etcd_client.watch("")
    with pytest.raises(InvalidArgumentError):
        etcd_client.watch("/k", start_revision=-1)
