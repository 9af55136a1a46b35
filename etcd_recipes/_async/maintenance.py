"""Maintenance (``client.maintenance``): member status, alarms, defragmentation, hashes,
leader transfer and snapshots.

Status, defragment, hash_kv and snapshot concern one member: by default the member the client
is talking to, or the one given as ``endpoint="host:port"`` (reached over a short-lived
connection with the client's TLS settings and token).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import IO, Any

import grpc

from .._core.admin import (
    Alarm,
    HashKVResponse,
    MemberListResponse,
    SnapshotInfo,
    StatusResponse,
    check_member_id,
)
from .._core.endpoints import parse_endpoint
from .._core.errors import map_rpc_error
from .._core.tls import tls_hint
from .._exceptions import (
    ConnectionFailedError,
    InternalError,
    InvalidArgumentError,
    InvalidAuthTokenError,
    NoLeaderError,
)
from .._pb import rpc_pb2
from . import _backend as backend
from ._connection import AsyncConnection
from .auth import AsyncAuthConnection

_SHA256_SIZE = 32


class AsyncMaintenanceAPI:
    """etcd's Maintenance service. Results are typed; errors are ours.

    On a cluster with authentication enabled, defragment, hash_kv, move_leader and snapshot
    need root (``PermissionDeniedError`` otherwise); status and alarms do not.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._conn = conn
        self._credentials = credentials
        self._options = list(options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._conn.target}>"

    @contextlib.asynccontextmanager
    async def _member(self, endpoint: str | None) -> AsyncIterator[AsyncConnection]:
        """The client's connection, or a short-lived one to ``endpoint`` sharing its token."""
        main = self._conn
        if isinstance(main, AsyncAuthConnection):
            await main.ensure_authenticated()
        if endpoint is None:
            yield main
            return
        parsed = parse_endpoint(endpoint)
        if parsed.secure is not None and parsed.secure != (self._credentials is not None):
            raise InvalidArgumentError(
                f"endpoint {endpoint!r} does not match the client's "
                f"{'TLS' if self._credentials is not None else 'plaintext'} settings"
            )
        conn = AsyncConnection(
            str(parsed),
            dial_timeout=main.dial_timeout,
            timeout=main.timeout,
            retry_timeout=main.retry_timeout,
            keepalive_time=None,
            keepalive_timeout=1.0,
            credentials=self._credentials,
            options=self._options,
        )
        if isinstance(main, AsyncAuthConnection):
            conn.metadata = main.metadata

            async def renew() -> None:
                await main.renew_token()
                conn.metadata = main.metadata

            conn.reauthenticate = renew
        try:
            yield conn
        finally:
            await conn.close()

    async def status(
        self, *, endpoint: str | None = None, timeout: float | None = None
    ) -> StatusResponse:
        """The member's status: version, db size, leader, raft index and term, errors."""
        async with self._member(endpoint) as conn:
            response = await conn.unary(
                conn.maintenance.Status, rpc_pb2.StatusRequest(), timeout, False, "status"
            )
        return StatusResponse._from_pb(response)

    async def alarm_list(self, *, timeout: float | None = None) -> tuple[Alarm, ...]:
        """The alarms raised in the cluster (e.g. NOSPACE once the quota is exhausted)."""
        conn = self._conn
        request = rpc_pb2.AlarmRequest(
            action=rpc_pb2.AlarmRequest.GET, memberID=0, alarm=rpc_pb2.NONE
        )
        response = await conn.unary(conn.maintenance.Alarm, request, timeout, False, "alarm_list")
        return tuple(Alarm._from_pb(a) for a in response.alarms)

    async def alarm_disarm(
        self, alarm: Alarm | None = None, *, timeout: float | None = None
    ) -> tuple[Alarm, ...]:
        """Clear ``alarm``, or every raised alarm; returns the alarms cleared.

        After a NOSPACE alarm, free space first (delete, ``compact``, ``defragment`` every
        member): a member still over its quota raises the alarm again on the next write.
        """
        targets = (alarm,) if alarm is not None else await self.alarm_list(timeout=timeout)
        conn = self._conn
        cleared: list[Alarm] = []
        for each in targets:
            request = rpc_pb2.AlarmRequest(
                action=rpc_pb2.AlarmRequest.DEACTIVATE,
                memberID=each.member_id,
                alarm=each.type.value,  # type: ignore[arg-type]
            )
            response = await conn.unary(
                conn.maintenance.Alarm, request, timeout, True, "alarm_disarm"
            )
            cleared.extend(Alarm._from_pb(a) for a in response.alarms)
        return tuple(cleared)

    async def defragment(
        self, *, endpoint: str | None = None, timeout: float | None = None
    ) -> None:
        """Defragment the member's backend, returning freed space to the file system.

        The member blocks reads and writes while it runs (seconds for a large database); do
        one member at a time.
        """
        async with self._member(endpoint) as conn:
            await conn.unary(
                conn.maintenance.Defragment,
                rpc_pb2.DefragmentRequest(),
                timeout,
                True,
                "defragment",
            )

    async def hash_kv(
        self, revision: int = 0, *, endpoint: str | None = None, timeout: float | None = None
    ) -> HashKVResponse:
        """A hash of the member's key-value history up to ``revision`` (0: the latest)."""
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise InvalidArgumentError(f"revision must be an int >= 0, not {revision!r}")
        async with self._member(endpoint) as conn:
            response = await conn.unary(
                conn.maintenance.HashKV,
                rpc_pb2.HashKVRequest(revision=revision),
                timeout,
                False,
                "hash_kv",
            )
        return HashKVResponse._from_pb(response)

    async def move_leader(
        self, target_id: int, *, endpoint: str | None = None, timeout: float | None = None
    ) -> None:
        """Hand leadership to voting member ``target_id``; returns once it is leader.

        The request goes to the current leader: the one found through the member list, or
        ``endpoint`` if the leader's advertised client URL is not reachable from here.
        """
        check_member_id(target_id)
        status = await self.status(timeout=timeout)
        if not status.leader:
            raise NoLeaderError("move_leader: the cluster has no leader")
        if status.leader == target_id:
            return
        if endpoint is None and not status.is_leader:
            conn = self._conn
            members = MemberListResponse._from_pb(
                await conn.unary(
                    conn.cluster.MemberList,
                    rpc_pb2.MemberListRequest(),
                    timeout,
                    False,
                    "move_leader",
                )
            )
            leader = members.get(status.leader)
            if leader is None or not leader.client_urls:
                raise InternalError(f"move_leader: no client URL for leader {status.leader:#x}")
            endpoint = leader.client_urls[0]
        request = rpc_pb2.MoveLeaderRequest(targetID=target_id)
        async with self._member(endpoint) as conn:
            await conn.unary(conn.maintenance.MoveLeader, request, timeout, True, "move_leader")

    async def snapshot(
        self,
        destination: str | os.PathLike[str] | IO[bytes],
        *,
        endpoint: str | None = None,
        timeout: float | None = None,
    ) -> SnapshotInfo:
        """Stream the member's backend database to ``destination`` (a path or a binary file
        object) and verify etcd's SHA-256 trailer.

        A path is written as ``<path>.part`` and renamed once complete, so ``path`` never holds
        a partial snapshot. The file is what ``etcdutl snapshot restore`` takes. ``timeout``
        bounds the whole transfer (default: none). Errors writing the file are ``OSError``.
        """
        if isinstance(destination, (str, os.PathLike)):
            path = os.fspath(destination)
            partial = path + ".part"
            try:
                with open(partial, "wb") as out:
                    info = await self._snapshot_to(out, endpoint, timeout)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(partial, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                raise
            return info
        if not callable(getattr(destination, "write", None)):
            raise InvalidArgumentError(
                f"destination must be a path or a binary file object, not {destination!r}"
            )
        return await self._snapshot_to(destination, endpoint, timeout)

    async def _snapshot_to(
        self, out: IO[bytes], endpoint: str | None, timeout: float | None
    ) -> SnapshotInfo:
        async with self._member(endpoint) as conn:
            for attempt in (1, 2):
                conn.check_open()
                call: Any = conn.maintenance.Snapshot(
                    rpc_pb2.SnapshotRequest(), timeout=timeout, metadata=conn.metadata
                )
                hasher = hashlib.sha256()
                tail = b""
                size = 0
                try:
                    async for response in backend.aiter_stream(call):
                        blob = response.blob
                        out.write(blob)
                        size += len(blob)
                        data = tail + blob
                        hasher.update(data[:-_SHA256_SIZE])
                        tail = data[-_SHA256_SIZE:]
                except grpc.RpcError as error:
                    mapped = map_rpc_error(error, mutating=False, what="snapshot")
                    renew = conn.reauthenticate
                    if (
                        attempt == 1
                        and size == 0
                        and isinstance(mapped, InvalidAuthTokenError)
                        and renew is not None
                    ):
                        await renew()
                        continue
                    raise mapped from error
                finally:
                    call.cancel()
                break
        if size < _SHA256_SIZE or hasher.digest() != tail:
            raise InternalError(
                f"snapshot: the {size}-byte stream does not end with the SHA-256 of its data"
            )
        return SnapshotInfo(size, tail.hex())


async def explain_connection_failure(
    conn: AsyncConnection, error: ConnectionFailedError, *, tls: bool
) -> ConnectionFailedError:
    """``error`` with the transport's reason (a failed TLS handshake, a refused connection...)
    if it lacks one -- found by one quick call that does not wait for the channel -- and a
    hint about what to change."""
    message = error.message
    if tls_hint(message, tls=tls) is None:
        try:
            await conn.maintenance.Status(
                rpc_pb2.StatusRequest(), timeout=max(0.1, min(1.0, conn.dial_timeout))
            )
        except grpc.RpcError as probe:
            # grpc.aio's AioRpcError is not a grpc.Call, but has ``details()`` too.
            describe = getattr(probe, "details", None)
            details = str(describe() or "") if callable(describe) else ""
            details = details.removeprefix("failed to connect to all addresses; ")
            if details and details not in message:
                message = f"{message}: {details}"
    hint = tls_hint(message, tls=tls)
    if hint is not None:
        message = f"{message} ({hint})"
    if message == error.message:
        return error
    return ConnectionFailedError(message, code=error.code)
