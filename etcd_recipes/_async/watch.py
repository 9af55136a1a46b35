"""Watches: every watch of a client shares one gRPC Watch stream.

Each watcher remembers the revision it must resume from (the last delivered event's revision
+ 1, or a progress notification's revision + 1). If the stream breaks (member killed, paused,
connection reset), it is reopened -- on whichever member the channel reaches -- and every watcher
is re-created from its resume revision: no event is lost, none is delivered twice, order is kept.
If that revision was compacted meanwhile, the watcher raises CompactedError.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import grpc

from .._core import types
from .._core.errors import from_status, map_rpc_error
from .._core.keys import KeyLike
from .._core.ops import _key_and_end
from .._core.types import WatchFilter
from .._exceptions import (
    ClientClosedError,
    CompactedError,
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
    WatchError,
)
from .._pb import rpc_pb2
from . import _backend as backend
from ._connection import AsyncConnection

log = logging.getLogger("etcd_recipes.watch")

_END = object()


class AsyncWatcher:
    """A watch on a key, prefix or range. Iterate it for ``WatchResponse`` batches::

        async with client.watch("/job/", prefix=True, prev_kv=True) as watcher:
            async for response in watcher:
                for event in response.events: ...

    ``read(timeout=)`` waits (bounded) for the next batch; ``cancel()`` ends the iteration.
    Entering the context manager (or the first iteration, or ``start()``) creates the watch on
    the server and waits until etcd confirms it, so writes made after that are seen.
    """

    def __init__(
        self,
        hub: _AsyncWatchHub,
        key: KeyLike,
        *,
        prefix: bool = False,
        range_end: KeyLike | None = None,
        start_revision: int | None = None,
        prev_kv: bool = False,
        filters: tuple[WatchFilter, ...] = (),
        progress_notify: bool = False,
        timeout: float | None = None,
    ) -> None:
        if start_revision is not None and (
            not isinstance(start_revision, int) or start_revision < 0
        ):
            raise InvalidArgumentError(
                f"start_revision must be an int >= 0, not {start_revision!r}"
            )
        self._hub = hub
        self._key, self._range_end = _key_and_end(key, prefix, range_end, False)
        self._prev_kv = prev_kv
        self._filters = tuple(WatchFilter(f).value for f in filters)
        self._progress_notify = progress_notify
        self._timeout = timeout
        self.id = 0
        self.next_revision = start_revision or 0
        """The revision the watch resumes from after a reconnection (0: from "now")."""
        self.compact_revision = 0
        self._queue: backend.Queue[Any] = backend.Queue()
        self._created = backend.Event()
        self._create_error: EtcdError | None = None
        self._started = False
        self._finished = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} key={self._key!r} next={self.next_revision}>"

    def _create_request(self) -> rpc_pb2.WatchRequest:
        return rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(
                key=self._key,
                range_end=self._range_end,
                start_revision=self.next_revision,
                progress_notify=self._progress_notify,
                filters=self._filters,  # type: ignore[arg-type]
                prev_kv=self._prev_kv,
                watch_id=self.id,
            )
        )

    async def start(self) -> AsyncWatcher:
        """Create the watch on the server and wait (bounded) for etcd to confirm it."""
        if self._started:
            return self
        self._started = True
        await self._hub.add(self)
        timeout = self._timeout or self._hub.conn.retry_timeout
        if not await backend.wait_event(self._created, timeout):
            await self.cancel()
            raise EtcdTimeoutError(f"watch was not confirmed by etcd within {timeout}s")
        if self._create_error is not None:
            await self.cancel()
            raise self._create_error
        return self

    async def read(self, timeout: float | None = None) -> types.WatchResponse:
        """The next batch of events; EtcdTimeoutError if none comes within ``timeout``.

        Raises CompactedError if the watch's revision was compacted, WatchError if etcd
        cancelled the watch, ClientClosedError (or StopAsyncIteration when iterating) once it ended.
        """
        if not self._started:
            await self.start()
        if self._finished and self._queue.qsize() == 0:
            raise ClientClosedError("the watch has ended")
        try:
            item = await self._queue.get(timeout)
        except TimeoutError:
            raise EtcdTimeoutError(f"no watch event within {timeout}s") from None
        if item is _END:
            self._finished = True
            self._queue.put(_END)
            raise ClientClosedError("the watch has ended")
        if isinstance(item, BaseException):
            self._finished = True
            self._queue.put(_END)
            raise item
        return item  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncWatcher:
        return self

    async def __anext__(self) -> types.WatchResponse:
        try:
            return await self.read()
        except ClientClosedError:
            raise StopAsyncIteration from None

    async def events(self, timeout: float | None = None) -> list[types.Event]:
        """The events of the next batch (see ``read``)."""
        return list((await self.read(timeout)).events)

    async def request_progress(self) -> None:
        """Ask etcd for a progress notification (the current revision) on this client's watches."""
        await self._hub.send(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))

    async def cancel(self) -> None:
        """Cancel the watch; iteration ends after the batches already received."""
        if self._finished:
            return
        await self._hub.remove(self)
        self._finished = True
        self._queue.put(_END)

    async def __aenter__(self) -> AsyncWatcher:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.cancel()

    # Called by the hub's reader, on the loop / reader thread.
    def _deliver(self, response: rpc_pb2.WatchResponse) -> None:
        header = types.ResponseHeader._from_pb(response.header)
        if response.created:
            if not self.next_revision:
                self.next_revision = header.revision + 1
            self._created.set()
        if response.canceled:
            self._hub.forget(self)
            if response.compact_revision:
                self.compact_revision = response.compact_revision
                error: EtcdError = CompactedError(
                    f"watch start revision {self.next_revision} was compacted "
                    f"(oldest kept: {response.compact_revision})",
                    compact_revision=response.compact_revision,
                )
            elif response.cancel_reason:
                error = from_status(None, response.cancel_reason, mutating=False, what="watch")
                if type(error) is EtcdError:
                    error = WatchError(f"watch cancelled: {response.cancel_reason}")
            else:
                error = WatchError("watch cancelled by the server")
            if not self._created.is_set():
                self._create_error = error
                self._created.set()
            self._queue.put(error)
            return
        if response.events:
            events = tuple(types.Event._from_pb(e) for e in response.events)
            self.next_revision = events[-1].kv.mod_revision + 1
            self._queue.put(types.WatchResponse(header, events))
        elif not response.created and response.header.revision:
            # A progress notification: nothing up to this revision is missing.
            self.next_revision = max(self.next_revision, header.revision + 1)
            if self._progress_notify or self._hub.progress_requested:
                self._queue.put(types.WatchResponse(header, (), progress_notify=True))

    def _end(self, error: BaseException | None) -> None:
        self._queue.put(error if error is not None else _END)


class _AsyncWatchHub:
    """Owns the client's single Watch stream, (re)opens it, and routes responses by watch id."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._watchers: dict[int, AsyncWatcher] = {}
        self._ids = itertools.count(1)
        self._lock = backend.Lock()
        self._stream: backend.BidiStream[rpc_pb2.WatchResponse] | None = None
        self._task: backend.Task | None = None
        self._closed = False
        self.progress_requested = False

    async def add(self, watcher: AsyncWatcher) -> None:
        self.conn.check_open()
        async with self._lock:
            watcher.id = next(self._ids)
            self._watchers[watcher.id] = watcher
            if self._task is None or self._task.done():
                self._task = backend.spawn(self._run, name="etcd-watch")
            elif self._stream is not None:
                await self._stream.write(watcher._create_request())

    def forget(self, watcher: AsyncWatcher) -> None:
        self._watchers.pop(watcher.id, None)

    async def remove(self, watcher: AsyncWatcher) -> None:
        async with self._lock:
            if self._watchers.pop(watcher.id, None) is not None and self._stream is not None:
                cancel = rpc_pb2.WatchCancelRequest(watch_id=watcher.id)
                try:
                    await self._stream.write(rpc_pb2.WatchRequest(cancel_request=cancel))
                except (grpc.RpcError, RuntimeError, ValueError):
                    pass

    async def send(self, request: rpc_pb2.WatchRequest) -> None:
        async with self._lock:
            if request.HasField("progress_request"):
                self.progress_requested = True
            if self._stream is not None:
                await self._stream.write(request)

    async def _run(self) -> None:
        backoff = 0.05
        while not self._closed and self._watchers:
            stream: backend.BidiStream[rpc_pb2.WatchResponse] = backend.BidiStream(
                self.conn.watch.Watch, self.conn.metadata
            )
            try:
                async with self._lock:
                    self._stream = stream
                    for watcher in list(self._watchers.values()):
                        await stream.write(watcher._create_request())
                while True:
                    response = await stream.read()
                    if response is None:
                        break
                    backoff = 0.05
                    target = self._watchers.get(response.watch_id)
                    if target is not None:
                        target._deliver(response)
                    elif response.header.revision and not response.events:
                        for each in list(self._watchers.values()):
                            each._deliver(response)  # a progress notification for all
            except grpc.RpcError as error:
                if self._closed:
                    break
                mapped = map_rpc_error(error, mutating=False, what="watch")
                log.info("watch stream broke (%s); resuming", mapped)
                if not isinstance(mapped, (EtcdError,)) or _fatal(error):
                    for watcher in list(self._watchers.values()):
                        watcher._end(mapped)
                    self._watchers.clear()
            finally:
                async with self._lock:
                    self._stream = None
                stream.cancel()
            if self._closed:
                break
            await backend.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def close(self) -> None:
        self._closed = True
        async with self._lock:
            if self._stream is not None:
                self._stream.cancel()
        for watcher in list(self._watchers.values()):
            watcher._end(None)
        self._watchers.clear()
        if self._task is not None:
            self._task.cancel()
            await self._task.join(2.0)


def _fatal(error: grpc.RpcError) -> bool:
    """Errors a reconnection cannot cure (bad request, permission), as opposed to transport ones."""
    code = error.code() if isinstance(error, grpc.Call) else None
    return code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
    )
