"""Leases: grant, revoke, time-to-live, list, and keep-alive over one shared stream.

A lease's expiry is judged on a monotonic clock read *before* each refresh request is sent:
once ``sent_at + ttl`` of the latest acknowledged refresh has passed, the lease is certainly gone
from our point of view, whatever the network did. Each lease remembers the send times of its
unanswered refreshes in order, so an answer is always matched with its own request.

The keep-alive stream lives on the connection's current member. It moves to another member when
that member fails (connection refused or reset, ping timeout, no leader -- the connection tells
every stream), or when a refresh stays unanswered for ``stuck_after`` (ttl/6, between 0.5 and
2 s: a paused member). A lease is reported lost only when etcd answers that it is gone or its TTL
passed without a successful refresh. Its ``state`` is CONNECTED after a successful refresh,
SUSPENDED while refreshes fail or go unanswered, and LOST (final) once lost.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

import grpc

from .._core import types
from .._core.ops import lease_id
from .._core.state import ConnectionState, StateListener, StateListeners
from .._exceptions import (
    EtcdError,
    InvalidArgumentError,
    InvalidAuthTokenError,
    LeaseExpiredError,
    LeaseNotFoundError,
    UnavailableError,
)
from .._pb import rpc_pb2
from . import _backend as backend
from ._connection import AsyncConnection, Member

log = logging.getLogger("etcd_recipes.lease")

LostCallback = Callable[["AsyncLease"], Any]


class AsyncLease:
    """A granted lease: its ``id`` and granted ``ttl`` (seconds).

    A context manager that revokes the lease on exit. ``keep_alive()`` refreshes it in the
    background; if it is lost (etcd says it is gone, or its TTL passed without a successful
    refresh) ``lost`` becomes True, ``lost_at`` records the monotonic time, and the
    ``on_lost`` callbacks run once (on the event loop / the keep-alive thread).

    ``state`` is CONNECTED, SUSPENDED (refreshes fail or go unanswered: a holder cannot be sure
    it still holds) or LOST; ``add_state_listener(cb)`` calls ``cb(state)`` on every change.
    """

    def __init__(self, api: AsyncLeaseAPI, id: int, ttl: int, granted_at: float) -> None:
        self._api = api
        self.id = id
        self.ttl = ttl
        self.lost = False
        self.lost_at: float | None = None
        self.lost_reason = ""
        self._lost_event = backend.Event()
        self._callbacks: list[LostCallback] = []
        self._listeners = StateListeners("lease")
        self._state = ConnectionState.CONNECTED
        self._lock = backend.ShortLock()
        self._kept_alive = False
        self._expires_at = granted_at + ttl
        self._next_due = 0.0
        self._pending: collections.deque[float] = collections.deque()
        self.stuck_after = min(max(ttl / 6.0, 0.5), 2.0)
        """Seconds an unanswered refresh may wait before the stream moves to another member."""

    def __repr__(self) -> str:
        state = "lost" if self.lost else ("kept alive" if self._kept_alive else "granted")
        return f"<{type(self).__name__} id={self.id:#x} ttl={self.ttl} {state}>"

    @property
    def is_kept_alive(self) -> bool:
        """True while the background keep-alive refreshes this lease."""
        return self._kept_alive and not self.lost

    @property
    def expires_at(self) -> float:
        """Monotonic time by which the lease is certainly expired unless refreshed again."""
        return self._expires_at

    @property
    def state(self) -> ConnectionState:
        """CONNECTED, SUSPENDED or LOST (final)."""
        return self._state

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(state)`` on every change of ``state``."""
        self._listeners.add(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    async def revoke(self, *, timeout: float | None = None) -> None:
        """Revoke the lease now; keys bound to it are deleted."""
        await self._api.revoke(self, timeout=timeout)

    async def time_to_live(
        self, *, keys: bool = False, timeout: float | None = None
    ) -> types.LeaseTimeToLive:
        """The remaining TTL (and, with ``keys=True``, the keys bound to the lease)."""
        return await self._api.time_to_live(self, keys=keys, timeout=timeout)

    async def keep_alive_once(
        self, *, timeout: float | None = None
    ) -> types.LeaseKeepAliveResponse:
        """Refresh the lease once."""
        return await self._api.keep_alive_once(self, timeout=timeout)

    async def keep_alive(self, on_lost: LostCallback | None = None) -> AsyncLease:
        """Refresh the lease in the background (every ttl/3) until revoked or stopped."""
        if on_lost is not None:
            self._callbacks.append(on_lost)
        await self._api._keeper.add(self)
        return self

    def add_lost_callback(self, callback: LostCallback) -> None:
        """Call ``callback(lease)`` once when the lease is lost (at once if it already is)."""
        if self.lost:
            callback(self)
        else:
            self._callbacks.append(callback)

    async def stop_keep_alive(self) -> None:
        """Stop refreshing the lease (it then expires after its TTL unless revoked)."""
        await self._api._keeper.remove(self)

    async def wait_lost(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until the lease is lost; True if it was."""
        return await backend.wait_event(self._lost_event, timeout)

    def _refreshed(self, sent_at: float, ttl: int) -> None:
        """etcd answered the refresh sent at ``sent_at`` with ``ttl``."""
        expires = sent_at + ttl
        if expires > self._expires_at:
            self._expires_at = expires
        self._set_state(ConnectionState.CONNECTED)

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            if self.lost or self._state is state:
                return
            self._state = state
            self._listeners.queue(state)  # in the order of the changes
        log.info("lease %x %s", self.id, state.name)
        self._listeners.deliver()

    def _mark_lost(self, reason: str) -> None:
        with self._lock:
            if self.lost:
                return
            self.lost = True
            self.lost_at = backend.monotonic()
            self.lost_reason = reason
            self._kept_alive = False
            self._state = ConnectionState.LOST
            self._listeners.queue(ConnectionState.LOST)
        self._lost_event.set()
        log.info("lease %x lost: %s", self.id, reason)
        for callback in list(self._callbacks):
            try:
                callback(self)
            except Exception:
                log.exception("lease lost callback failed")
        self._listeners.deliver()

    async def __aenter__(self) -> AsyncLease:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.revoke()
        except LeaseNotFoundError:
            pass


def _single_answer(fn: Any) -> Any:
    """Turn the LeaseKeepAlive stream method into a call that sends one request and returns
    its answer, so a one-off refresh goes through ``conn.unary``'s failover and retries."""

    async def call(request: Any, *, timeout: float | None, metadata: Any) -> Any:
        stream: backend.BidiStream[Any] = backend.BidiStream(fn, metadata, timeout)
        try:
            await stream.write(request)
            response = await stream.read()
        finally:
            stream.cancel()
        if response is None:
            raise UnavailableError("lease keep-alive: the stream ended without an answer")
        return response

    return call


class AsyncLeaseAPI:
    """etcd's Lease service (``client.lease``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._keeper = _AsyncKeepAliver(conn)

    async def grant(self, ttl: int, *, id: int = 0, timeout: float | None = None) -> AsyncLease:
        """Grant a lease of ``ttl`` seconds (etcd may raise it to its minimum TTL)."""
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise InvalidArgumentError(f"ttl must be a positive number of seconds, not {ttl!r}")
        conn = self._conn
        start = backend.monotonic()
        request = rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=id)
        response = await conn.unary(conn.lease.LeaseGrant, request, timeout, True, "lease grant")
        if response.error:
            raise EtcdError(f"lease grant: {response.error}")
        return AsyncLease(self, response.ID, response.TTL, start)

    async def revoke(self, lease: Any, *, timeout: float | None = None) -> None:
        """Revoke a lease (an id or a lease object); its keys are deleted."""
        ident = lease_id(lease)
        conn = self._conn
        request = rpc_pb2.LeaseRevokeRequest(ID=ident)
        try:
            await conn.unary(conn.lease.LeaseRevoke, request, timeout, True, "lease revoke")
        finally:
            if isinstance(lease, AsyncLease):
                await self._keeper.remove(lease)

    async def time_to_live(
        self, lease: Any, *, keys: bool = False, timeout: float | None = None
    ) -> types.LeaseTimeToLive:
        """A lease's remaining TTL; ``ttl == -1`` (``expired``) when it no longer exists."""
        conn = self._conn
        request = rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id(lease), keys=keys)
        pb = await conn.unary(conn.lease.LeaseTimeToLive, request, timeout, False, "lease ttl")
        return types.LeaseTimeToLive(
            pb.ID, pb.TTL, pb.grantedTTL, tuple(pb.keys), types.ResponseHeader._from_pb(pb.header)
        )

    async def leases(self, *, timeout: float | None = None) -> tuple[int, ...]:
        """The ids of every live lease."""
        conn = self._conn
        request = rpc_pb2.LeaseLeasesRequest()
        pb = await conn.unary(conn.lease.LeaseLeases, request, timeout, False, "lease list")
        return tuple(item.ID for item in pb.leases)

    async def keep_alive_once(
        self, lease: Any, *, timeout: float | None = None
    ) -> types.LeaseKeepAliveResponse:
        """Refresh a lease once (retried on another member if need be); raises
        LeaseNotFoundError if it is gone."""
        conn = self._conn
        ident = lease_id(lease)
        method = conn.adapted(conn.lease.LeaseKeepAlive, _single_answer, "#once")
        start = backend.monotonic()
        request = rpc_pb2.LeaseKeepAliveRequest(ID=ident)
        response = await conn.unary(method, request, timeout, False, "lease keep-alive")
        if response.TTL <= 0:
            raise LeaseNotFoundError(f"lease {ident:#x} not found")
        if isinstance(lease, AsyncLease):
            lease._refreshed(start, response.TTL)
        return types.LeaseKeepAliveResponse(
            response.ID, response.TTL, types.ResponseHeader._from_pb(response.header)
        )

    async def keep_alive(self, lease: Any, on_lost: LostCallback | None = None) -> AsyncLease:
        """Keep a lease (an id or a lease object) alive in the background."""
        if not isinstance(lease, AsyncLease):
            start = backend.monotonic()
            ttl = await self.time_to_live(lease)
            if ttl.expired:
                raise LeaseNotFoundError(f"lease {lease_id(lease):#x} not found")
            lease = AsyncLease(self, ttl.id, ttl.granted_ttl, start)
            lease._expires_at = start + ttl.ttl
        kept: AsyncLease = await lease.keep_alive(on_lost)
        return kept

    async def close(self) -> None:
        """Stop every keep-alive of this client."""
        await self._keeper.close()


class _AsyncKeepAliver:
    """Refreshes every kept-alive lease of a client over one LeaseKeepAlive stream.

    The sender wakes when a lease is due (ttl/3 after its last refresh), when an unanswered
    refresh has waited ``stuck_after``, or when a lease's TTL runs out; the reader applies
    answers (TTL <= 0: etcd no longer has the lease). If the stream breaks or stalls it is
    reopened -- on another member when the connection moved -- and every lease is refreshed at
    once; a lease whose deadline passes meanwhile is lost.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._leases: dict[int, AsyncLease] = {}
        self._wake = backend.Event()
        self._lock = backend.ShortLock()
        self._stopped = False
        self._running = False
        self._task: backend.Task | None = None
        self._stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse] | None = None
        self._member: Member | None = None
        self.streams_opened = 0
        """How many keep-alive streams were opened (for tests and diagnostics)."""
        conn.add_member_listener(self._member_failed)

    def _member_failed(self, member: Member) -> None:
        stream = self._stream
        if stream is not None and member is self._member:
            stream.cancel()  # the sender reopens it on the current member

    async def add(self, lease: AsyncLease) -> None:
        self._conn.check_open()
        if lease.lost:
            raise LeaseExpiredError(f"lease {lease.id:#x} is already lost")
        lease._kept_alive = True
        lease._next_due = 0.0
        with self._lock:
            self._leases[lease.id] = lease
            self._stopped = False
            start = not self._running
            self._running = True
        if start:
            self._task = backend.spawn(self._run, name="etcd-keepalive")
        self._wake.set()

    async def remove(self, lease: AsyncLease) -> None:
        lease._kept_alive = False
        with self._lock:
            self._leases.pop(lease.id, None)
        self._wake.set()

    async def close(self) -> None:
        self._stopped = True
        self._conn.remove_member_listener(self._member_failed)
        self._wake.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        if self._task is not None:
            self._task.cancel()
            await self._task.join(2.0)
        self._leases.clear()

    def _more_work(self) -> bool:
        """Whether the run loop goes on; clears ``_running`` (under the lock) when it stops."""
        with self._lock:
            if not self._stopped and self._leases and not self._conn.closed:
                return True
            self._running = False
            return False

    async def _run(self) -> None:
        try:
            while True:
                try:
                    await self._serve()
                    return
                except Exception:  # a bug here must not stop refreshing leases silently
                    log.exception("the keep-alive loop failed; restarting it")
                    await backend.sleep(0.1)
        finally:
            with self._lock:
                self._running = False

    async def _serve(self) -> None:
        conn = self._conn
        backoff = 0.0
        while self._more_work():
            member = conn.member
            opened = backend.monotonic()
            stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse] = backend.BidiStream(
                member.callable(conn.lease.LeaseKeepAlive), conn.call_metadata(True)
            )
            self.streams_opened += 1
            self._stream, self._member = stream, member
            for lease in list(self._leases.values()):
                lease._pending.clear()
                lease._next_due = 0.0  # refresh everything at once on a new stream
            failure: list[grpc.RpcError] = []
            answered: list[bool] = []
            reader = backend.spawn(
                self._read, stream, member, failure, answered, name="etcd-keepalive-reader"
            )
            stuck_since: float | None = None
            try:
                while not self._stopped and not reader.done() and self._leases:
                    self._wake.clear()
                    wait, stuck_since = await self._send_due(stream)
                    if stuck_since is not None:
                        break
                    await backend.wait_event(self._wake, wait)
            finally:
                self._stream = self._member = None
                stream.cancel()
                await reader.join(1.0)
            if self._stopped or conn.closed:
                break
            if answered:
                backoff = 0.0
            if stuck_since is not None:
                conn.stalled(member, stuck_since, "lease keep-alive unanswered")
            elif failure:
                verdict = conn.assess_failure(
                    failure[0], member, opened, mutating=False, what="lease keep-alive"
                )
                log.info("keep-alive stream on %s broke (%s)", member, verdict.error)
                if isinstance(verdict.error, InvalidAuthTokenError):
                    try:
                        await conn.refresh_auth()
                    except EtcdError as error:
                        log.warning("keep-alive: could not renew the auth token: %s", error)
            if self._leases and (stuck_since is not None or failure):
                for lease in list(self._leases.values()):
                    lease._set_state(ConnectionState.SUSPENDED)
            self._expire_overdue(backend.monotonic())
            await backend.wait_event(self._wake, backoff)
            backoff = min(max(backoff * 2, 0.05), 1.0)

    async def _send_due(
        self, stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse]
    ) -> tuple[float, float | None]:
        """Send the refreshes that are due. Returns the seconds until the next thing to do, and
        the send time of a refresh left unanswered for too long (the stream is stuck) or None."""
        now = backend.monotonic()
        next_wake = 0.5
        self._expire_overdue(now)
        for lease in list(self._leases.values()):
            pending = lease._pending
            if pending and now - pending[0] >= lease.stuck_after:
                return 0.0, pending[0]
            if lease._next_due <= now:
                pending.append(now)
                lease._next_due = now + max(lease.ttl / 3.0, 0.1)
                await stream.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease.id))
            next_wake = min(next_wake, lease._next_due - now, lease._expires_at - now)
            if pending:
                next_wake = min(next_wake, pending[0] + lease.stuck_after - now)
        return max(next_wake, 0.005), None

    def _expire_overdue(self, now: float) -> None:
        for lease in list(self._leases.values()):
            if lease._expires_at <= now:
                with self._lock:
                    self._leases.pop(lease.id, None)
                lease._mark_lost("its TTL passed without a successful refresh")

    async def _read(
        self,
        stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse],
        member: Member,
        failure: list[grpc.RpcError],
        answered: list[bool],
    ) -> None:
        try:
            while True:
                response = await stream.read()
                if response is None:
                    break
                lease = self._leases.get(response.ID)
                if lease is None:
                    continue
                sent_at = lease._pending.popleft() if lease._pending else None
                if response.TTL <= 0:
                    with self._lock:
                        self._leases.pop(lease.id, None)
                    lease._mark_lost("etcd reports the lease is gone")
                elif sent_at is not None:
                    lease._refreshed(sent_at, response.TTL)
                    self._conn.note_success(member, sent_at)
                    if not answered:
                        answered.append(True)
        except grpc.RpcError as error:
            failure.append(error)
        finally:
            self._wake.set()
