# GENERATED from etcd_recipes/_async/watch.py by scripts/unasync.py -- do not edit.
"""Watches: every watch of a client shares one gRPC Watch stream, on the connection's current
member.

Each watcher remembers the revision it resumes from: the last delivered event's revision + 1,
or a trusted progress notification's revision + 1. When the stream breaks (member killed,
stopping, paused or blackholed -- noticed by gRPC keepalive or by the connection failing over --,
no leader, connection reset) it is reopened on the member the connection uses now and every
watcher is re-created from its resume revision: no event is lost, none is delivered twice, order
is kept. If that revision was compacted meanwhile, the watcher raises CompactedError (with
``compact_revision``) instead of skipping anything.

Progress notifications: per-watcher ones (``progress_notify=True``, sent by etcd only for
watchers that are caught up) always advance the resume revision. The answer to
``request_progress()`` is broadcast to the whole stream, and etcd before 3.4.24 / 3.5.8 may send
it while a watcher that started in the past is still catching up (etcd issue 15220), so it
advances only watchers that were caught up from their creation.

A slow consumer is bounded: when more than ``max_queue`` events wait unread, the watch is
cancelled on the server and, after the batches already received, ``read`` raises
WatchOverflowError (with ``next_revision`` to watch again from). Nothing is dropped silently.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import grpc

from .._core import types
from .._core.errors import from_status
from .._core.keys import KeyLike
from .._core.ops import _key_and_end
from .._core.types import WatchFilter as WatchFilter
from .._exceptions import (
    ClientClosedError,
    CompactedError,
    EtcdError,
    EtcdTimeoutError,
    InternalError,
    InvalidArgumentError,
    InvalidAuthTokenError,
    WatchError,
    WatchOverflowError,
)
from .._pb import rpc_pb2
from . import _backend as backend
from ._connection import Connection, Member

log = logging.getLogger("etcd_recipes.watch")

_END = object()
_BROADCAST_ID = -1  # etcd's id for responses to progress requests (all watchers of a stream)
# Errors a new stream cannot cure.
_FATAL_CODES = ("INVALID_ARGUMENT", "PERMISSION_DENIED", "UNIMPLEMENTED")


class Watcher:
    """A watch on a key, prefix or range. Iterate it for ``WatchResponse`` batches::

        with client.watch("/job/", prefix=True, prev_kv=True) as watcher:
            for response in watcher:
                for event in response.events: ...

    ``read(timeout=)`` waits (bounded) for the next batch; ``cancel()`` ends the iteration.
    Entering the context manager (or the first iteration, or ``start()``) creates the watch on
    the server and waits until etcd confirms it, so writes made after that are seen.

    The watch survives member failures (see the module documentation): it resumes on another
    member from ``next_revision``. ``max_queue`` bounds the events waiting unread; beyond it the
    watch ends with WatchOverflowError.
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
        max_queue: int = 100_000,
    ) -> None:
        if start_revision is not None and (
            not isinstance(start_revision, int) or start_revision < 0
        ):
            raise InvalidArgumentError(
                f"start_revision must be an int >= 0, not {start_revision!r}"
            )
        if not isinstance(max_queue, int) or max_queue < 1:
            raise InvalidArgumentError(f"max_queue must be a positive int, not {max_queue!r}")
        self._hub = hub
        self._key, self._range_end = _key_and_end(key, prefix, range_end, False)
        self._prev_kv = prev_kv
        self._filters = tuple(WatchFilter(f).value for f in filters)
        self._progress_notify = progress_notify
        self._timeout = timeout
        self.max_queue = max_queue
        self.id = 0
        self.next_revision = start_revision or 0
        """The revision the watch resumes from after a reconnection (0: from "now")."""
        self.compact_revision = 0
        self._queue: backend.Queue[Any] = backend.Queue()
        # Events put in the queue / taken out (each counter has one writer: no lock needed).
        self._queued = 0
        self._taken = 0
        self._created = backend.Event()
        self._create_error: EtcdError | None = None
        self._requested_start = 0
        self._synced = False
        self._started = False
        self._finished = False
        self._ended = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} key={self._key!r} next={self.next_revision}>"

    @property
    def pending(self) -> int:
        """Events received but not read yet."""
        return self._queued - self._taken

    def _create_request(self) -> rpc_pb2.WatchRequest:
        self._requested_start = self.next_revision
        self._synced = False
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

    def start(self) -> Watcher:
        """Create the watch on the server and wait (bounded) for etcd to confirm it."""
        if self._started:
            return self
        self._started = True
        self._hub.add(self)
        timeout = self._timeout or self._hub.conn.retry_timeout
        if not backend.wait_event(self._created, timeout):
            self.cancel()
            raise EtcdTimeoutError(f"watch was not confirmed by etcd within {timeout}s")
        if self._create_error is not None:
            self.cancel()
            raise self._create_error
        return self

    def read(self, timeout: float | None = None) -> types.WatchResponse:
        """The next batch of events; EtcdTimeoutError if none comes within ``timeout``.

        Raises CompactedError if the watch's revision was compacted, WatchOverflowError if the
        consumer fell behind by more than ``max_queue`` events, WatchError if etcd cancelled the
        watch, ClientClosedError (or StopIteration when iterating) once it ended.
        """
        if not self._started:
            self.start()
        if self._finished and self._queue.qsize() == 0:
            raise ClientClosedError("the watch has ended")
        try:
            item = self._queue.get(timeout)
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
        self._taken += max(len(item.events), 1)
        return item  # type: ignore[no-any-return]

    def __iter__(self) -> Watcher:
        return self

    def __next__(self) -> types.WatchResponse:
        try:
            return self.read()
        except ClientClosedError:
            raise StopIteration from None

    def events(self, timeout: float | None = None) -> list[types.Event]:
        """The events of the next batch (see ``read``)."""
        return list((self.read(timeout)).events)

    def request_progress(self) -> None:
        """Ask etcd for a progress notification (the current revision) on this client's watches;
        it arrives as a ``WatchResponse`` with ``progress_notify`` True and no events."""
        self._hub.send(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))

    def cancel(self) -> None:
        """Cancel the watch; iteration ends after the batches already received."""
        if self._finished:
            return
        self._hub.remove(self)
        self._finished = True
        self._end(None)

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    # Called by the hub's reader, on the loop / reader thread.

    def _deliver(self, response: rpc_pb2.WatchResponse) -> bool:
        """Take one response for this watcher; False when the watcher must be removed."""
        if self._ended:
            return False
        header = types.ResponseHeader._from_pb(response.header)
        if response.created:
            if not self.next_revision:
                self.next_revision = header.revision + 1
            start = self._requested_start
            self._synced = start == 0 or start > header.revision
            self._created.set()
        if response.canceled:
            self._canceled(response)
            return False
        if response.events:
            events = tuple(types.Event._from_pb(e) for e in response.events)
            revision = events[-1].kv.mod_revision
            if revision < self.next_revision:  # never re-deliver (defensive: etcd resends none)
                events = tuple(e for e in events if e.kv.mod_revision >= self.next_revision)
                if not events:
                    return True
            self.next_revision = revision + 1
            return self._put(types.WatchResponse(header, events))
        if not response.created and response.header.revision:
            self._progress(header, trusted=True)
        return True

    def _progress(self, header: types.ResponseHeader, *, trusted: bool) -> None:
        """A progress notification: nothing up to ``header.revision`` is missing (if trusted)."""
        if trusted or self._synced:
            self.next_revision = max(self.next_revision, header.revision + 1)
        if self._progress_notify or self._hub.progress_requested:
            self._put(types.WatchResponse(header, (), progress_notify=True))

    def _put(self, response: types.WatchResponse) -> bool:
        self._queue.put(response)
        self._queued += max(len(response.events), 1)
        if self.pending > self.max_queue:
            self._end(
                WatchOverflowError(
                    f"watch on {self._key!r} cancelled: its consumer fell behind by more than "
                    f"{self.max_queue} events (max_queue); every event before this error was "
                    f"delivered: watch again from revision {self.next_revision}",
                    next_revision=self.next_revision,
                )
            )
            return False
        return True

    def _canceled(self, response: rpc_pb2.WatchResponse) -> None:
        if response.compact_revision:
            self.compact_revision = response.compact_revision
            error: EtcdError = CompactedError(
                f"watch start revision {self.next_revision} was compacted "
                f"(oldest kept: {response.compact_revision})",
                compact_revision=response.compact_revision,
            )
        elif response.cancel_reason:
            error = from_status(None, response.cancel_reason, mutating=False, what="watch")
            if type(error) in (EtcdError, InternalError):
                error = WatchError(f"watch cancelled: {response.cancel_reason}")
        else:
            error = WatchError("watch cancelled by the server")
        if not self._created.is_set():
            self._create_error = error
            self._created.set()
        self._end(error)

    def _end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put(error if error is not None else _END)
        if not self._created.is_set():  # wake a start() still waiting for etcd's confirmation
            if isinstance(error, EtcdError):
                self._create_error = error
            else:
                self._create_error = ClientClosedError("the watch ended before etcd confirmed it")
            self._created.set()


class _AsyncWatchHub:
    """Owns the client's single Watch stream, (re)opens it on the connection's current member,
    and routes responses by watch id."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._watchers: dict[int, Watcher] = {}
        self._ids = itertools.count(1)
        self._lock = backend.Lock()
        self._stream: backend.BidiStream[rpc_pb2.WatchResponse] | None = None
        self._member: Member | None = None
        self._task: backend.Task | None = None
        self._closed = False
        self.progress_requested = False
        self.streams_opened = 0
        """How many Watch streams were opened (1 + reconnections; for tests and diagnostics)."""
        self.confirm_timeout = max(2.0, 2 * conn.attempt_timeout)
        """A new stream whose watch creations are not confirmed within this many seconds is
        given up (its member may be paused before the connection was even made)."""
        conn.add_member_listener(self._member_failed)

    def _member_failed(self, member: Member) -> None:
        """The connection gave up on ``member``: move the stream if it is there."""
        stream = self._stream
        if stream is not None and member is self._member:
            stream.cancel()  # the run loop reopens it on the current member

    def add(self, watcher: Watcher) -> None:
        self.conn.check_open()
        with self._lock:
            watcher.id = next(self._ids)
            self._watchers[watcher.id] = watcher
            if self._task is None or self._task.done():
                self._task = backend.spawn(self._run, name="etcd-watch")
            elif self._stream is not None:
                self._stream.write(watcher._create_request())

    def forget(self, watcher: Watcher) -> None:
        self._watchers.pop(watcher.id, None)

    def remove(self, watcher: Watcher) -> None:
        with self._lock:
            if self._watchers.pop(watcher.id, None) is not None and self._stream is not None:
                cancel = rpc_pb2.WatchCancelRequest(watch_id=watcher.id)
                self._stream.write(rpc_pb2.WatchRequest(cancel_request=cancel))

    def send(self, request: rpc_pb2.WatchRequest) -> None:
        with self._lock:
            if request.HasField("progress_request"):
                self.progress_requested = True
            if self._stream is not None:
                self._stream.write(request)

    def _run(self) -> None:
        try:
            self._serve()
        except Exception as error:  # a bug here must not leave watchers waiting forever
            log.exception("the watch stream loop failed")
            self._end_all(InternalError(f"watch: the stream loop failed: {error!r}"))

    def _serve(self) -> None:
        conn = self.conn
        backoff = 0.0
        while not self._closed and self._watchers and not conn.closed:
            member = conn.member
            opened = backend.monotonic()
            stream: backend.BidiStream[rpc_pb2.WatchResponse] = backend.BidiStream(
                member.callable(conn.watch.Watch), conn.call_metadata(True)
            )
            self.streams_opened += 1
            failure: grpc.RpcError | None = None
            confirmed = backend.Event()
            stalled: list[bool] = []
            watchdog = backend.spawn(
                self._watchdog, stream, confirmed, stalled, name="etcd-watch-watchdog"
            )
            try:
                with self._lock:
                    self._stream, self._member = stream, member
                    for watcher in list(self._watchers.values()):
                        stream.write(watcher._create_request())
                while True:
                    response = stream.read()
                    if response is None:
                        break
                    if response.created and not confirmed.is_set():
                        confirmed.set()
                        conn.note_success(member, opened)
                        backoff = 0.0
                    self._dispatch(stream, response)
            except grpc.RpcError as error:
                failure = error
            finally:
                confirmed.set()
                with self._lock:
                    self._stream = self._member = None
                stream.cancel()
                watchdog.join(1.0)
            if self._closed or conn.closed:
                break
            if stalled:
                conn.stalled(member, opened, "watch creation not confirmed")
            elif failure is not None:
                verdict = conn.assess_failure(failure, member, opened, mutating=False, what="watch")
                if verdict.error.code in _FATAL_CODES:
                    self._end_all(verdict.error)
                    break
                if isinstance(verdict.error, InvalidAuthTokenError):
                    try:
                        conn.refresh_auth()
                    except EtcdError as error:
                        self._end_all(error)
                        break
                log.info("watch stream on %s broke (%s); resuming", member, verdict.error)
            backend.sleep(backoff)
            backoff = min(max(backoff * 2, 0.05), 1.0)

    def _watchdog(
        self,
        stream: backend.BidiStream[rpc_pb2.WatchResponse],
        confirmed: Any,
        stalled: list[bool],
    ) -> None:
        """Give up a new stream whose creations etcd does not confirm in time."""
        if not backend.wait_event(confirmed, self.confirm_timeout):
            stalled.append(True)
            stream.cancel()

    def _dispatch(
        self,
        stream: backend.BidiStream[rpc_pb2.WatchResponse],
        response: rpc_pb2.WatchResponse,
    ) -> None:
        target = self._watchers.get(response.watch_id)
        if target is not None:
            if not target._deliver(response):
                with self._lock:
                    if self._watchers.pop(target.id, None) is not None and not response.canceled:
                        cancel = rpc_pb2.WatchCancelRequest(watch_id=target.id)
                        stream.write(rpc_pb2.WatchRequest(cancel_request=cancel))
        elif (
            response.watch_id == _BROADCAST_ID
            and response.header.revision
            and not response.events
            and not response.canceled
            and not response.created
        ):  # a progress notification for every watcher of the stream
            header = types.ResponseHeader._from_pb(response.header)
            for each in list(self._watchers.values()):
                each._progress(header, trusted=False)

    def _end_all(self, error: BaseException | None) -> None:
        for watcher in list(self._watchers.values()):
            watcher._end(error)
        self._watchers.clear()

    def close(self) -> None:
        self._closed = True
        self.conn.remove_member_listener(self._member_failed)
        with self._lock:
            if self._stream is not None:
                self._stream.cancel()
        self._end_all(None)
        if self._task is not None:
            self._task.cancel()
            self._task.join(2.0)
