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

Who reads the stream: the hub's task (thread) reads it and queues each response for its watcher,
which costs a task switch (a thread wake-up and GIL hand-over) per response. If
``backend.CONSUMER_READS_WATCH_STREAM`` (threads: yes; asyncio: no, measured no cheaper), while a
watcher is the only one on the stream and its consumer waits in ``read()`` with no timeout
(iteration), the consumer reads the stream itself instead, in a turn the hub hands over: no hop.
Its turn ends when it leaves ``read()``; the hub takes the stream back when another watcher is
added, when the stream ends or fails (the consumer hands it the outcome, and the hub resumes as
above), or when the consumer has not come back for ``_IDLE_TICK`` seconds (then responses are
queued, and ``max_queue`` counts, as before). Cancelling a watcher whose consumer is reading the
stream cancels the stream (it has no other watcher): that is what wakes the consumer.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
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
# Who reads the hub's stream: the hub, nobody (the sole watcher's consumer may take its turn),
# or that consumer.
_HUB, _FREE, _CONSUMER = 0, 1, 2
_IDLE_TICK = 0.05  # the hub takes the stream back from a consumer away this long
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

    ``on_events=callback``: each batch (and progress notification) is passed to
    ``callback(response)`` as soon as it is read, on the client's watch reader (the event loop's
    watch task, or the watch thread), instead of being queued: no task switch or thread wake-up
    per batch. The callback must be a quick plain function that never blocks (no I/O, no
    waiting; under asyncio it must not block the loop): while it runs, no watch of the client gets
    anything. ``read()`` and iteration then only report the end: the error that ended the watch
    (an exception raised by the callback ends the watch and is raised there), or
    ClientClosedError / the end of iteration after ``cancel()``. ``max_queue`` does not apply.
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
        on_events: Callable[[types.WatchResponse], object] | None = None,
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
        self._wants_direct = False  # waiting in read() with no timeout: may read the stream
        self._on_events = on_events

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
            if timeout is None and backend.CONSUMER_READS_WATCH_STREAM:
                item = self._wait()
            else:
                if self._hub._reader == _FREE:  # nobody reads the stream: the hub, now
                    self._hub._need_reader()
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

    def _wait(self) -> Any:
        """The next queue item, with no timeout: read the stream ourselves when it is our turn
        (see the module documentation), else wait for the hub to queue it."""
        if self._queue.qsize():  # (get_nowait on an empty queue costs an exception)
            item = self._queue.get_nowait()
            if item is not None:
                return item
        hub = self._hub
        stream = hub._claim(self)
        if stream is not None:
            item = self._read_direct(stream)
            if item is not None:
                return item
        hub._need_reader()
        self._wants_direct = True
        try:
            return self._queue.get()
        finally:
            self._wants_direct = False

    def _read_direct(self, stream: backend.BidiStream[rpc_pb2.WatchResponse]) -> Any:
        """Read the stream until a response for us; None when the turn went back to the hub."""
        hub = self._hub
        while True:
            try:
                response = stream.read()
            except grpc.RpcError as error:
                hub._release(stream, error)  # the hub assesses it and resumes
                return None
            except BaseException:  # asyncio: our task was cancelled (the call is cancelled too)
                stream.cancel()
                hub._release(stream, None)
                raise
            if response is None:
                hub._release(stream, None)
                return None
            try:
                if response.created:
                    hub._confirm()
                hub._dispatch(stream, response)
            except BaseException:
                stream.cancel()
                hub._release(stream, None)
                raise
            item = self._queue.get_nowait()
            if item is not None or not hub._eligible(self, stream):
                hub._release(stream)
                return item

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
        header = types._header(response.header)
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
            events = types._events(response.events)
            revision = events[-1].kv.mod_revision
            if revision < self.next_revision:  # never re-deliver (defensive: etcd resends none)
                events = tuple(e for e in events if e.kv.mod_revision >= self.next_revision)
                if not events:
                    return True
            self.next_revision = revision + 1
            return self._put(types._watch_response(header, events))
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
        if self._on_events is not None:  # no queue: the callback runs here, on the reader
            try:
                self._on_events(response)
            except Exception as error:  # the watch ends with it (read() raises it)
                log.exception("watch on %r: the on_events callback failed", self._key)
                self._end(error)
                return False
            return True
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
        self._pending_creates: deque[int] = deque()  # ids whose creation etcd has not answered
        # The reading turn (see the module documentation); guarded by _baton.
        self._baton = backend.ShortLock()
        self._reader = _HUB
        self._direct: Watcher | None = None  # the consumer whose turn it is
        self._handback: tuple[Any, grpc.RpcError | None] | None = None  # (stream, its end)
        self._direct_reads = 0
        self._notify_free = False
        self._wake = backend.Event()
        self._confirmed = backend.Event()
        self._opened = 0.0
        self._backoff = 0.0
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
            self._need_reader()

    def add(self, watcher: Watcher) -> None:
        self.conn.check_open()
        with self._lock:
            watcher.id = next(self._ids)
            self._watchers[watcher.id] = watcher
            self._need_reader()  # a consumer reading alone hands over after the creation
            if self._task is None or self._task.done():
                self._task = backend.spawn(self._run, name="etcd-watch")
            elif self._stream is not None:
                self._pending_creates.append(watcher.id)  # before the answer can come
                self._stream.write(watcher._create_request())

    def forget(self, watcher: Watcher) -> None:
        self._watchers.pop(watcher.id, None)

    def remove(self, watcher: Watcher) -> None:
        with self._lock:
            if self._watchers.pop(watcher.id, None) is not None and self._stream is not None:
                with self._baton:
                    reading = self._reader == _CONSUMER and self._direct is watcher
                if reading:  # it was alone on the stream: end the stream to wake its read
                    self._stream.cancel()
                    return
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
        self._backoff = 0.0
        while not self._closed and self._watchers and not conn.closed:
            member = conn.member
            opened = backend.monotonic()
            stream: backend.BidiStream[rpc_pb2.WatchResponse] = backend.BidiStream(
                member.callable(conn.watch.Watch), conn.call_metadata(True)
            )
            self.streams_opened += 1
            failure: grpc.RpcError | None = None
            confirmed = self._confirmed = backend.Event()
            self._opened = opened
            stalled: list[bool] = []
            watchdog = backend.spawn(
                self._watchdog, stream, confirmed, stalled, name="etcd-watch-watchdog"
            )
            try:
                with self._lock:
                    with self._baton:
                        self._reader, self._handback = _HUB, None
                    self._stream, self._member = stream, member
                    self._pending_creates = deque()
                    for watcher in list(self._watchers.values()):
                        self._pending_creates.append(watcher.id)
                        stream.write(watcher._create_request())
                while True:
                    # Fast path, without the baton: only the hub itself leaves _HUB.
                    if self._reader == _HUB and self._handback is None:
                        response = stream.read()
                    else:
                        response = self._next(stream)
                    if response is None:
                        break
                    if response.created:
                        self._confirm()
                    alone = self._alone() if backend.CONSUMER_READS_WATCH_STREAM else None
                    if alone is None:
                        self._dispatch(stream, response)
                        continue
                    queued = alone._queued
                    self._dispatch(stream, response)
                    if alone._wants_direct and alone._queued != queued:
                        self._offer(stream, alone)  # its consumer reads the next ones itself
            except grpc.RpcError as error:
                failure = error
            finally:
                confirmed.set()
                with self._lock:
                    self._stream = self._member = None
                with self._baton:
                    self._reader, self._handback, self._direct = _HUB, None, None
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
            backend.sleep(self._backoff)
            self._backoff = min(max(self._backoff * 2, 0.05), 1.0)

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

    # The reading turn (see the module documentation).

    def _alone(self) -> Watcher | None:
        """The stream's only watcher, if it has exactly one."""
        if len(self._watchers) == 1:
            for watcher in self._watchers.values():
                return watcher
        return None

    def _eligible(
        self, watcher: Watcher, stream: backend.BidiStream[rpc_pb2.WatchResponse]
    ) -> bool:
        return (
            self._stream is stream
            and not self._closed
            and len(self._watchers) == 1
            and self._watchers.get(watcher.id) is watcher
        )

    def _claim(self, watcher: Watcher) -> backend.BidiStream[rpc_pb2.WatchResponse] | None:
        """Give ``watcher``'s consumer the turn to read the stream, if nobody reads it."""
        with self._baton:
            stream = self._stream
            if self._reader != _FREE or stream is None or not self._eligible(watcher, stream):
                return None
            self._reader, self._direct = _CONSUMER, watcher
            self._direct_reads += 1
            return stream

    def _release(
        self,
        stream: backend.BidiStream[rpc_pb2.WatchResponse],
        end: Any = _END,
    ) -> None:
        """A consumer ends its turn; ``end``: the stream ended (None) or failed (RpcError)."""
        with self._baton:
            if self._reader != _CONSUMER:
                return
            self._direct = None
            if end is not _END:
                self._handback = (stream, end)
                self._reader = _HUB
            elif len(self._watchers) != 1 or self._stream is not stream or self._closed:
                self._reader = _HUB
            else:
                self._reader = _FREE
                if not self._notify_free:
                    return
            self._notify_free = False
            self._wake.set()

    def _offer(self, stream: backend.BidiStream[rpc_pb2.WatchResponse], watcher: Watcher) -> None:
        """The hub lets ``watcher``'s consumer, waiting for the response just queued, read the
        next ones itself."""
        with self._baton:
            if self._reader == _HUB and self._eligible(watcher, stream):
                self._reader = _FREE

    def _need_reader(self) -> None:
        """Nobody reads the stream and somebody waits: the hub takes it back at once."""
        with self._baton:
            if self._reader == _FREE:
                self._reader = _HUB
                self._wake.set()

    def _next(
        self, stream: backend.BidiStream[rpc_pb2.WatchResponse]
    ) -> rpc_pb2.WatchResponse | None:
        """The hub's next response: read it when it is the hub's turn, else wait for the turn
        (or for the end a consumer met)."""
        seen = -1
        while True:
            with self._baton:
                handback = self._handback
                if handback is not None and handback[0] is stream:
                    self._handback = None
                    if handback[1] is not None:
                        raise handback[1]
                    return None
                if self._reader == _FREE and (
                    self._direct_reads == seen or self._closed or len(self._watchers) != 1
                ):
                    self._reader = _HUB  # the consumer did not come back: queue for it
                if self._reader == _HUB:
                    break
                # The consumer read lately: look again after a tick. It has been in the same
                # read since the last look (a quiet watch): sleep until that turn ends.
                busy = self._direct_reads != seen
                seen = self._direct_reads if busy else -1
                self._notify_free = not busy
                self._wake.clear()
            backend.wait_event(self._wake, _IDLE_TICK if busy else None)
        return stream.read()

    def _confirm(self) -> None:
        """A creation was confirmed (read by the hub or by a consumer in its turn): the first
        one on a stream shows that its member answers."""
        if not self._confirmed.is_set():
            self._confirmed.set()
            if self._member is not None:
                self.conn.note_success(self._member, self._opened)
            self._backoff = 0.0

    def _dispatch(
        self,
        stream: backend.BidiStream[rpc_pb2.WatchResponse],
        response: rpc_pb2.WatchResponse,
    ) -> None:
        watch_id = response.watch_id
        if response.created:
            # etcd answers the creations of a stream in order. 3.4 answers one it refuses
            # (permission denied) with watch_id -1: it is the oldest creation still unanswered.
            pending = self._pending_creates
            if watch_id == _BROADCAST_ID and pending:
                watch_id = pending.popleft()
            elif watch_id in pending:
                pending.remove(watch_id)
        target = self._watchers.get(watch_id)
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
        with self._baton:
            self._wake.set()
        self._end_all(None)
        if self._task is not None:
            self._task.cancel()
            self._task.join(2.0)
