"""Watches: events with prev_kv, prefixes, start revisions, filters, progress, compaction."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    AsyncClient,
    AsyncWatcher,
    ClientClosedError,
    CompactedError,
    EtcdTimeoutError,
    Event,
    EventType,
    InvalidArgumentError,
    WatchFilter,
    WatchResponse,
)
from etcd_recipes._async import _backend as backend

from .helpers import Outcome, read_past_overflow


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


async def test_reads_that_time_out_as_events_arrive_lose_none(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    # A consumer polling with a short timeout races the events it waits for: a read that
    # times out just as an event is queued must leave that event for the next read.
    c = etcd_async_client
    count = 300

    async def writer() -> None:
        for i in range(count):
            await c.put(f"{etcd_key_prefix}{i % 7}", str(i))

    async with c.watch(etcd_key_prefix, prefix=True) as watcher:
        task = backend.spawn(writer, name="test-writer")
        values: list[bytes] = []
        timeouts = 0
        deadline = backend.monotonic() + 30
        while len(values) < count and backend.monotonic() < deadline:
            try:
                values += [e.value for e in (await watcher.read(timeout=0.0005)).events]
            except EtcdTimeoutError:
                timeouts += 1
        await task.join(10)
    assert values == [str(i).encode() for i in range(count)]
    assert timeouts > 0  # the race was exercised


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


@pytest.fixture(params=[True, False], ids=["consumer-reads", "hub-reads"])
def consumer_reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways a lone watcher's iterating consumer gets its responses: reading the stream
    itself, or from the hub's queue (the backend's default picks one per flavour)."""
    monkeypatch.setattr(backend, "CONSUMER_READS_WATCH_STREAM", request.param)
    return bool(request.param)


class Collector:
    """Iterates a watcher in the background (a task / a thread), as an application's loop
    would: with no timeout, so that it may read the stream itself while alone on it."""

    def __init__(self, watcher: AsyncWatcher) -> None:
        self.events: backend.Queue[Event] = backend.Queue()
        self.outcome = Outcome(self._run, watcher)

    async def _run(self, watcher: AsyncWatcher) -> str:
        async for response in watcher:
            for event in response.events:
                self.events.put(event)
        return "ended"

    async def take(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """The values of the next ``count`` events (bounded)."""
        return [(await self.events.get(timeout)).value for _ in range(count)]


async def test_an_iterating_consumer_reads_the_stream_itself_and_loses_nothing(
    etcd_async_client: AsyncClient, etcd_key_prefix: str, consumer_reads: bool
) -> None:
    c = etcd_async_client
    watcher = await c.watch(etcd_key_prefix, prefix=True).start()
    collector = Collector(watcher)
    for i in range(30):  # one at a time: the consumer waits for each, and takes the stream
        await c.put(f"{etcd_key_prefix}{i}", str(i))
        assert await collector.take(1) == [str(i).encode()]
    for i in range(30, 60):  # a burst
        await c.put(f"{etcd_key_prefix}{i}", str(i))
    assert await collector.take(30) == [str(i).encode() for i in range(30, 60)]
    assert (c._watch_hub._direct_reads > 0) == consumer_reads
    await watcher.cancel()  # wakes the consumer, which was reading the stream
    assert await collector.outcome.wait() == "ended"
    assert collector.events.get_nowait() is None
    async with c.watch(etcd_key_prefix, prefix=True) as again:  # the client watches on
        await c.put(f"{etcd_key_prefix}again", "x")
        assert [e.value for e in await again.events(timeout=5)] == [b"x"]


async def test_watches_added_and_removed_while_a_consumer_reads_the_stream(
    etcd_async_client: AsyncClient, etcd_key_prefix: str, consumer_reads: bool
) -> None:
    c = etcd_async_client
    first = await c.watch(etcd_key_prefix + "a/", prefix=True).start()
    collector = Collector(first)
    for i in range(5):
        await c.put(f"{etcd_key_prefix}a/{i}", str(i))
        assert await collector.take(1) == [str(i).encode()]
    # The first watcher's consumer reads the stream: it confirms the second one's creation
    # and hands the stream back to the hub.
    second = await c.watch(etcd_key_prefix + "b/", prefix=True, timeout=5).start()
    for i in range(5, 10):
        await c.put(f"{etcd_key_prefix}a/{i}", str(i))
        await c.put(f"{etcd_key_prefix}b/{i}", str(i))
    assert await collector.take(5) == [str(i).encode() for i in range(5, 10)]
    seen: list[bytes] = []
    while len(seen) < 5:
        seen += [e.value for e in await second.events(timeout=5)]
    assert seen == [str(i).encode() for i in range(5, 10)]
    await second.cancel()
    for i in range(10, 15):  # alone again
        await c.put(f"{etcd_key_prefix}a/{i}", str(i))
        assert await collector.take(1) == [str(i).encode()]
    await first.cancel()
    assert await collector.outcome.wait() == "ended"
    assert collector.events.get_nowait() is None


async def test_a_consumer_that_stops_reading_is_bounded_like_any_slow_one(
    etcd_async_client: AsyncClient, etcd_key_prefix: str, consumer_reads: bool
) -> None:
    """An iterating consumer that read the stream itself, then stays away (busy elsewhere): a
    tick later the hub reads the stream again and queues for it, so ``max_queue`` bounds what
    waits and the watch ends with WatchOverflowError after the queued events, as for any slow
    consumer; watching again from its ``next_revision`` loses nothing."""
    c = etcd_async_client
    watcher = await c.watch(etcd_key_prefix, prefix=True, max_queue=10).start()
    taken: backend.Queue[bytes] = backend.Queue()

    async def ten_then_away(w: AsyncWatcher) -> str:
        async for response in w:
            for event in response.events:
                taken.put(event.value)
                if event.value == b"9":
                    return "away"
        return "ended"

    consumer = Outcome(ten_then_away, watcher)
    seen: list[bytes] = []
    for i in range(10):  # one at a time: the consumer waits for each, and takes the stream
        await c.put(f"{etcd_key_prefix}{i:02d}", str(i))
        seen.append(await taken.get(5.0))
    assert await consumer.wait() == "away"
    assert (c._watch_hub._direct_reads > 0) == consumer_reads
    for i in range(10, 40):
        await c.put(f"{etcd_key_prefix}{i:02d}", str(i))
    deadline = backend.monotonic() + 5.0
    while watcher.pending <= 10:  # bounded: queued by the hub, not left in the stream
        assert backend.monotonic() < deadline, f"only {watcher.pending} events were queued"
        await backend.sleep(0.01)
    assert 20 < await read_past_overflow(c, watcher, etcd_key_prefix, seen, 40) < 40
    assert seen == [f"{i}".encode() for i in range(40)]


async def test_a_consumer_reading_the_stream_survives_a_member_failure(
    etcd_async_client: AsyncClient, etcd_key_prefix: str, consumer_reads: bool
) -> None:
    """The stream ends under the consumer reading it (the connection gave up its member): the
    hub opens a new one and the watch resumes after the last delivered event."""
    c = etcd_async_client
    hub = c._watch_hub
    watcher = await c.watch(etcd_key_prefix, prefix=True).start()
    collector = Collector(watcher)
    for i in range(5):
        await c.put(f"{etcd_key_prefix}{i}", str(i))
        assert await collector.take(1) == [str(i).encode()]
    opened = hub.streams_opened
    member = hub._member
    assert member is not None
    hub._member_failed(member)
    for i in range(5, 15):
        await c.put(f"{etcd_key_prefix}{i}", str(i))
    assert await collector.take(10) == [str(i).encode() for i in range(5, 15)]
    assert hub.streams_opened == opened + 1
    await watcher.cancel()
    assert await collector.outcome.wait() == "ended"
    assert collector.events.get_nowait() is None


async def test_on_events_callback_gets_every_batch_in_order_on_the_reader(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    batches: backend.Queue[WatchResponse] = backend.Queue()
    watcher = c.watch(etcd_key_prefix, prefix=True, on_events=batches.put)
    async with watcher:
        for i in range(20):
            await c.put(f"{etcd_key_prefix}{i}", str(i))
        values: list[bytes] = []
        while len(values) < 20:
            values += [e.value for e in (await batches.get(5)).events]
        assert values == [str(i).encode() for i in range(20)]
        assert watcher.pending == 0
        await watcher.request_progress()
        progress = await batches.get(5)
        assert progress.progress_notify and progress.events == ()
        with pytest.raises(EtcdTimeoutError):  # nothing is queued for read()
            await watcher.read(timeout=0.2)
    with pytest.raises(ClientClosedError):  # cancelled on exit: read() reports the end
        await watcher.read(timeout=5)
    assert batches.get_nowait() is None


async def test_an_on_events_callback_that_raises_ends_its_watch_only(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    seen: list[bytes] = []

    def callback(response: WatchResponse) -> None:
        for event in response.events:
            if event.value == b"bad":
                raise ValueError("cannot handle it")
            seen.append(event.value)

    other = await c.watch(etcd_key_prefix + "other").start()
    watcher = c.watch(etcd_key_prefix + "k/", prefix=True, on_events=callback)
    async with watcher:
        await c.put(etcd_key_prefix + "k/1", "good")
        await c.put(etcd_key_prefix + "k/2", "bad")
        with pytest.raises(ValueError, match="cannot handle it"):
            await watcher.read(timeout=5)
        await c.put(etcd_key_prefix + "other", "still watched")
        assert [e.value for e in await other.events(timeout=5)] == [b"still watched"]
    assert seen == [b"good"]
    await other.cancel()
