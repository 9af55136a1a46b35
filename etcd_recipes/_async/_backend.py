"""asyncio side of the few primitives that differ between asyncio and threads.

``etcd_recipes/_sync/_backend.py`` offers the same names for threads; everything else in
``_sync`` is generated from ``_async`` by ``scripts/unasync.py``. Keep the two files in step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

T = TypeVar("T")

Event = asyncio.Event
Lock = asyncio.Lock
monotonic = time.monotonic
IS_ASYNC = True


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
    try:
        await asyncio.wait_for(event.wait(), max(timeout, 0.0))
    except asyncio.TimeoutError:
        return event.is_set()
    return True


class Queue(Generic[T]):
    """An unbounded queue with a bounded ``get``."""

    def __init__(self) -> None:
        self._q: asyncio.Queue[T] = asyncio.Queue()

    def put(self, item: T) -> None:
        """Add an item (never blocks)."""
        self._q.put_nowait(item)

    async def get(self, timeout: float | None = None) -> T:
        """The next item; raises ``TimeoutError`` after ``timeout`` seconds."""
        if timeout is None:
            return await self._q.get()
        try:
            return await asyncio.wait_for(self._q.get(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError from None

    def get_nowait(self) -> T | None:
        """The next item, or None when empty."""
        try:
            return self._q.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def qsize(self) -> int:
        """How many items wait."""
        return self._q.qsize()


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


class BidiStream(Generic[T]):
    """A bidirectional gRPC stream: ``write`` requests, ``read`` responses (None at the end)."""

    def __init__(self, method: Any, metadata: Any = None) -> None:
        self._call = method(metadata=metadata)

    async def write(self, request: Any) -> None:
        """Send one request."""
        await self._call.write(request)

    async def read(self) -> T | None:
        """The next response, or None when the server ended the stream."""
        response = await self._call.read()
        if response is _EOF:
            return None
        return response  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Cancel the stream (a pending ``read`` raises)."""
        self._call.cancel()


async def aiter_stream(call: Any) -> AsyncIterator[Any]:
    """Iterate a server-streaming call's responses."""
    async for item in call:
        yield item
