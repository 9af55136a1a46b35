"""Leases: grant, revoke, time-to-live, list, and keep-alive over one shared stream.

A lease's expiry is judged on a monotonic clock read *before* each refresh request is sent:
once ``sent_at + ttl`` has passed without a successful refresh, the lease is certainly gone
from our point of view, whatever the network did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

from .._core import types
from .._core.errors import map_rpc_error
from .._core.ops import lease_id
from .._exceptions import (
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
    LeaseExpiredError,
    LeaseNotFoundError,
)
from .._pb import rpc_pb2
from . import _backend as backend
from ._connection import AsyncConnection

log = logging.getLogger("etcd_recipes.lease")

LostCallback = Callable[["AsyncLease"], Any]


class AsyncLease:
    """A granted lease: its ``id`` and granted ``ttl`` (seconds).

    A context manager that revokes the lease on exit. ``keep_alive()`` refreshes it in the
    background; if it is lost (etcd says it is gone, or its TTL passed without a successful
    refresh) ``lost`` becomes True, ``lost_at`` records the monotonic time, and the
    ``on_lost`` callbacks run once (on the event loop / the keep-alive thread).
    """

    def __init__(self, api: AsyncLeaseAPI, id: int, ttl: int, granted_at: float) -> None:
        self._api = api
        self.id = id
        self.ttl = ttl
        self.lost = False
        self.lost_at: float | None = None
        self._lost_event = backend.Event()
        self._callbacks: list[LostCallback] = []
        self._kept_alive = False
        self._expires_at = granted_at + ttl
        self._next_due = 0.0
        self._sent_at = 0.0

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

    def _mark_lost(self, reason: str) -> None:
        if self.lost:
            return
        self.lost = True
        self.lost_at = backend.monotonic()
        self._kept_alive = False
        self._lost_event.set()
        log.info("lease %x lost: %s", self.id, reason)
        for callback in self._callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("lease lost callback failed")

    async def __aenter__(self) -> AsyncLease:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.revoke()
        except LeaseNotFoundError:
            pass


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
        """Refresh a lease once; raises LeaseNotFoundError if it is gone."""
        conn = self._conn
        ident = lease_id(lease)
        if timeout is None:
            timeout = conn.timeout if conn.timeout is not None else conn.retry_timeout
        conn.check_open()
        stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse] = backend.BidiStream(
            conn.lease.LeaseKeepAlive, conn.metadata
        )
        try:
            await stream.write(rpc_pb2.LeaseKeepAliveRequest(ID=ident))
            response = await _read_bounded(stream, timeout)
        finally:
            stream.cancel()
        if response.TTL <= 0:
            raise LeaseNotFoundError(f"lease {ident:#x} not found")
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


async def _read_bounded(stream: Any, timeout: float) -> Any:
    box: list[Any] = []
    done = backend.Event()

    async def reader() -> None:
        try:
            box.append(await stream.read())
        except grpc.RpcError as error:
            box.append(map_rpc_error(error, mutating=False, what="lease keep-alive"))
        except Exception as error:
            box.append(error)
        done.set()

    task = backend.spawn(reader, name="etcd-lease-once")
    if not await backend.wait_event(done, timeout):
        stream.cancel()
        task.cancel()
        raise EtcdTimeoutError(f"lease keep-alive: no answer within {timeout}s")
    result: Any = box[0]
    if isinstance(result, BaseException):
        raise result
    if result is None:
        raise LeaseExpiredError("lease keep-alive stream ended")
    return result


class _AsyncKeepAliver:
    """Refreshes every kept-alive lease of a client over one LeaseKeepAlive stream.

    The sender wakes when a lease is due (ttl/3 after its last refresh) and writes its request;
    the reader applies answers: TTL <= 0 means etcd no longer has the lease. If the stream
    breaks it is reopened with backoff; a lease whose deadline passes meanwhile is lost.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._leases: dict[int, AsyncLease] = {}
        self._wake = backend.Event()
        self._stopped = False
        self._task: backend.Task | None = None
        self._stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse] | None = None

    async def add(self, lease: AsyncLease) -> None:
        self._conn.check_open()
        if lease.lost:
            raise LeaseExpiredError(f"lease {lease.id:#x} is already lost")
        lease._kept_alive = True
        lease._next_due = 0.0
        self._leases[lease.id] = lease
        if self._task is None or self._task.done():
            self._stopped = False
            self._task = backend.spawn(self._run, name="etcd-keepalive")
        self._wake.set()

    async def remove(self, lease: AsyncLease) -> None:
        lease._kept_alive = False
        self._leases.pop(lease.id, None)

    async def close(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._stream is not None:
            self._stream.cancel()
        if self._task is not None:
            self._task.cancel()
            await self._task.join(2.0)
        self._leases.clear()

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopped and self._leases:
            stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse] = backend.BidiStream(
                self._conn.lease.LeaseKeepAlive, self._conn.metadata
            )
            self._stream = stream
            reader = backend.spawn(self._read, stream, name="etcd-keepalive-reader")
            try:
                for lease in self._leases.values():
                    lease._next_due = 0.0  # refresh everything at once on a new stream
                while not self._stopped and not reader.done():
                    wait = await self._send_due(stream)
                    self._wake.clear()
                    await backend.wait_event(self._wake, wait)
                backoff = 0.05
            except grpc.RpcError:
                pass
            finally:
                stream.cancel()
                await reader.join(1.0)
                self._stream = None
            if self._stopped:
                break
            self._expire_overdue()
            await backend.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def _send_due(self, stream: backend.BidiStream[Any]) -> float:
        """Send the refreshes that are due; returns seconds until the next one is."""
        now = backend.monotonic()
        next_wake = 0.5
        self._expire_overdue()
        for lease in list(self._leases.values()):
            if lease._next_due <= now:
                lease._sent_at = now
                lease._next_due = now + max(lease.ttl / 3.0, 0.1)
                await stream.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease.id))
            next_wake = min(next_wake, lease._next_due - now, lease._expires_at - now)
        return max(next_wake, 0.01)

    def _expire_overdue(self) -> None:
        now = backend.monotonic()
        for lease in list(self._leases.values()):
            if lease._expires_at <= now:
                self._leases.pop(lease.id, None)
                lease._mark_lost("its TTL passed without a successful refresh")

    async def _read(self, stream: backend.BidiStream[rpc_pb2.LeaseKeepAliveResponse]) -> None:
        try:
            while True:
                response = await stream.read()
                if response is None:
                    break
                lease = self._leases.get(response.ID)
                if lease is None:
                    continue
                if response.TTL <= 0:
                    self._leases.pop(lease.id, None)
                    lease._mark_lost("etcd reports the lease is gone")
                else:
                    lease._expires_at = lease._sent_at + response.TTL
        except grpc.RpcError:
            pass
        finally:
            self._wake.set()
