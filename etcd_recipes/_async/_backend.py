"""asyncio side of the few primitives that differ between asyncio and threads.

``etcd_recipes/_sync/_backend.py`` offers the same names for threads; everything else in
``_sync`` is generated from ``_async`` by ``scripts/unasync.py``. Keep the two files in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

T = TypeVar("T")

Event = asyncio.Event
Lock = asyncio.Lock
monotonic = time.monotonic
IS_ASYNC = True


class ShortLock:
    """A lock for short critical sections that never await (``with lock:``).

    A no-op under asyncio, where such a section cannot be interleaved; ``threading.Lock`` in
    the thread twin, where background threads share the same state.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


async def sleep(seconds: float) -> None:
    """Sleep without blocking other tasks."""
    await asyncio.sleep(seconds)


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True if it was set."""
    if event.is_set():
        return True
    if timeout is None:
        await event.wait()
        return True
    # Not asyncio.wait_for: before Python 3.12 it swallows a cancellation that arrives as the
    # event is set (CPython gh-86296), and the cancelled task runs on (a lock would be taken).
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait([waiter], timeout=max(timeout, 0.0))
    finally:
        waiter.cancel()
    return event.is_set()


class Queue(Generic[T]):
    """An unbounded queue with a bounded ``get``.

    Lighter than ``asyncio.Queue`` (a watch queues one item per response, on the hot path): items
    sit in a deque and only a waiting ``get`` costs a future. An item is taken only by the getter
    that returns it, so a getter cancelled or timed out as an item arrives loses nothing: the
    item stays queued and the next waiter is woken.
    """

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiters: deque[asyncio.Future[bool]] = deque()

    def put(self, item: T) -> None:
        """Add an item (never blocks)."""
        self._items.append(item)
        if self._waiters:
            self._wake_one()

    def _wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return

    async def get(self, timeout: float | None = None) -> T:
        """The next item; raises ``TimeoutError`` after ``timeout`` seconds."""
        items = self._items
        if items:
            return items.popleft()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(timeout, 0.0)
        while not items:
            waiter: asyncio.Future[bool] = loop.create_future()
            timer = None if deadline is None else loop.call_at(deadline, _expire, waiter)
            self._waiters.append(waiter)
            try:
                woken = await waiter
            except BaseException:  # cancelled: hand a wake-up meant for us to the next waiter
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                if items and self._waiters:
                    self._wake_one()
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if not woken and not items:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                raise TimeoutError
        return items.popleft()

    def get_nowait(self) -> T | None:
        """The next item, or None when empty."""
        return self._items.popleft() if self._items else None

    def qsize(self) -> int:
        """How many items wait."""
        return len(self._items)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class Task:
    """A background coroutine (a thread in the sync twin)."""

    def __init__(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str
    ) -> None:
        self._task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(
            func(*args), name=name
        )

    def cancel(self) -> None:
        """Ask the task to stop (asyncio cancellation; threads must watch their own flags)."""
        self._task.cancel()

    def done(self) -> bool:
        """True when the task has finished."""
        return self._task.done()

    async def join(self, timeout: float | None = None) -> None:
        """Wait (bounded) for the task to finish; never raises its exception."""
        if self._task is asyncio.current_task():
            return
        await asyncio.wait([self._task], timeout=timeout)


def spawn(
    func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str = "etcd-recipes"
) -> Task:
    """Run ``func(*args)`` in the background."""
    return Task(func, *args, name=name)


def create_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: list[tuple[str, Any]],
) -> grpc.aio.Channel:
    """A gRPC channel for ``target`` (TLS when ``credentials`` is given)."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)


async def channel_ready(channel: grpc.aio.Channel, timeout: float) -> bool:
    """Wait (bounded) until the channel is connected; True if it is."""
    try:
        await asyncio.wait_for(channel.channel_ready(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def close_channel(channel: grpc.aio.Channel) -> None:
    """Close a channel, cancelling its calls."""
    await channel.close(None)


_EOF = getattr(grpc.aio, "EOF", None)
_END_OF_REQUESTS = object()


class BidiStream(Generic[T]):
    """A bidirectional gRPC stream: ``write`` requests, ``read`` responses.

    ``write`` never blocks: requests go through a queue that gRPC drains (a stream to a member
    that never finishes its handshake must not hang the writer). ``read`` returns None when the
    server ended the stream or after ``cancel()``; it raises ``grpc.RpcError`` when the stream
    failed. ``timeout`` is a deadline for the whole stream.
    """

    def __init__(self, method: Any, metadata: Any = None, timeout: float | None = None) -> None:
        self._cancelled = False
        self._requests: asyncio.Queue[Any] = asyncio.Queue()
        self._call = method(self._drain(), metadata=metadata, timeout=timeout)

    async def _drain(self) -> AsyncIterator[Any]:
        while True:
            request = await self._requests.get()
            if request is _END_OF_REQUESTS:
                return
            yield request

    async def write(self, request: Any) -> None:
        """Queue one request (never blocks; ignored once the stream is cancelled)."""
        if not self._cancelled:
            self._requests.put_nowait(request)

    async def read(self) -> T | None:
        """The next response, or None when the stream ended or was cancelled by us."""
        try:
            response = await self._call.read()
        except asyncio.CancelledError:
            if self._cancelled:
                return None
            raise
        if response is _EOF:
            return None
        return response  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Cancel the stream (a pending ``read`` returns None)."""
        self._cancelled = True
        self._requests.put_nowait(_END_OF_REQUESTS)
        self._call.cancel()


async def aiter_stream(call: Any) -> AsyncIterator[Any]:
    """Iterate a server-streaming call's responses."""
    async for item in call:
        yield item


def unary_metadata(pairs: tuple[tuple[str, str], ...] | None) -> grpc.aio.Metadata | None:
    """``pairs`` as the metadata object of unary calls, built once (grpc.aio would convert a
    tuple into a ``grpc.aio.Metadata`` on every call: ~0.7 µs). None for no metadata."""
    return grpc.aio.Metadata(*pairs) if pairs else None


CONSUMER_READS_WATCH_STREAM = False
"""Whether a watch's consumer may read the watch stream itself while alone on it (watch.py).
Not under asyncio: measured (benchmarks/run.py --only watch, interleaved A/B) it saved no client
CPU per event against the hub task's hand-off (0.97-1.19x), though it saves a task switch: the
hub keeps a read pending on the stream while the consumer works, the consumer cannot."""


def settle_closed_calls() -> None:
    """After a client closed: nothing to do under asyncio (see the thread twin)."""
