"""Thread side of the few primitives that differ between asyncio and threads.

Hand-written twin of ``etcd_recipes/_async/_backend.py`` (same names); the rest of ``_sync`` is
generated from ``_async`` by ``scripts/unasync.py``. Keep the two files in step.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import grpc

T = TypeVar("T")

Event = threading.Event
Lock = threading.Lock
ShortLock = threading.Lock
"""A lock for short critical sections (a no-op in the asyncio twin)."""
monotonic = time.monotonic
IS_ASYNC = False


def sleep(seconds: float) -> None:
    """Sleep."""
    time.sleep(seconds)


def wait_event(event: threading.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True if it was set."""
    return event.wait(None if timeout is None else max(timeout, 0.0))


class Queue(Generic[T]):
    """An unbounded queue with a bounded ``get``."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[T] = queue.SimpleQueue()

    def put(self, item: T) -> None:
        """Add an item (never blocks)."""
        self._q.put(item)

    def get(self, timeout: float | None = None) -> T:
        """The next item; raises ``TimeoutError`` after ``timeout`` seconds."""
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def get_nowait(self) -> T | None:
        """The next item, or None when empty."""
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return None

    def qsize(self) -> int:
        """How many items wait."""
        return self._q.qsize()


class Task:
    """A background thread (a coroutine task in the asyncio twin)."""

    def __init__(self, func: Callable[..., Any], *args: Any, name: str) -> None:
        self._thread = threading.Thread(target=func, args=args, name=name, daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Threads cannot be cancelled: they stop on their own flags."""

    def done(self) -> bool:
        """True when the thread has finished."""
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait (bounded) for the thread to finish."""
        if self._thread is threading.current_thread():
            return
        self._thread.join(timeout)


def spawn(func: Callable[..., Any], *args: Any, name: str = "etcd-recipes") -> Task:
    """Run ``func(*args)`` in a daemon thread."""
    return Task(func, *args, name=name)


def create_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: list[tuple[str, Any]],
) -> grpc.Channel:
    """A gRPC channel for ``target`` (TLS when ``credentials`` is given)."""
    if credentials is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, credentials, options=options)


def channel_ready(channel: grpc.Channel, timeout: float) -> bool:
    """Wait (bounded) until the channel is connected; True if it is."""
    future = grpc.channel_ready_future(channel)
    try:
        future.result(timeout=timeout)
    except grpc.FutureTimeoutError:
        future.cancel()
        return False
    return True


def close_channel(channel: grpc.Channel) -> None:
    """Close a channel, cancelling its calls."""
    channel.close()


_END = object()


class BidiStream(Generic[T]):
    """A bidirectional gRPC stream: ``write`` requests, ``read`` responses.

    ``read`` returns None when the server ended the stream or after ``cancel()``; it raises
    ``grpc.RpcError`` when the stream failed. ``write`` on a finished stream does nothing (the
    reader learns why it finished). ``timeout`` is a deadline for the whole stream.
    """

    def __init__(self, method: Any, metadata: Any = None, timeout: float | None = None) -> None:
        self._cancelled = False
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._call = method(iter(self._requests.get, _END), metadata=metadata, timeout=timeout)

    def write(self, request: Any) -> None:
        """Send one request."""
        if not self._cancelled:
            self._requests.put(request)

    def read(self) -> T | None:
        """The next response, or None when the stream ended or was cancelled by us."""
        try:
            return next(self._call)  # type: ignore[no-any-return]
        except StopIteration:
            return None
        except grpc.RpcError:
            if self._cancelled:
                return None
            raise

    def cancel(self) -> None:
        """Cancel the stream (a pending ``read`` returns None)."""
        self._cancelled = True
        self._requests.put(_END)
        self._call.cancel()


def aiter_stream(call: Any) -> Iterator[Any]:
    """Iterate a server-streaming call's responses."""
    yield from call


def unary_metadata(pairs: tuple[tuple[str, str], ...] | None) -> tuple[tuple[str, str], ...] | None:
    """``pairs`` as the metadata of unary calls (grpcio takes the tuple as it is)."""
    return pairs or None


CONSUMER_READS_WATCH_STREAM = True
"""Whether a watch's consumer may read the watch stream itself while alone on it (watch.py):
with threads it saves a thread wake-up and a GIL hand-over per response."""


def settle_closed_calls() -> None:
    """After a client closed its streams: free the stream calls now, while every thread runs.

    A grpcio stream call (``_Rendezvous``) sits in a reference cycle, so the cyclic GC frees it,
    and its ``__del__`` takes the call's condition lock. Left to the collection at interpreter
    exit, it can find that lock held by a daemon thread (grpcio's request-sending thread, or
    ours) that the exiting interpreter froze mid-way: the process then hangs at exit (seen ~1 in
    30-60 runs of a short script). Collected here, any holder still runs and lets go.
    """
    gc.collect()
