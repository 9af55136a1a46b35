"""One gRPC channel to the cluster, its service stubs, and the single place where calls are
made, timed out, retried and have their errors mapped to ours."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from .. import _exceptions as exc
from .._core.endpoints import channel_options, grpc_target, parse_endpoints
from .._core.errors import map_rpc_error
from .._pb import rpc_pb2_grpc
from . import _backend as backend

R = TypeVar("R")


def _retryable(error: BaseException, mutating: bool) -> bool:
    """Safe to send again: reads always on connection trouble; writes only if never sent."""
    if not isinstance(error, (exc.EtcdConnectionError, exc.TooManyRequestsError)):
        return False
    return not (mutating and error.outcome_unknown)


class AsyncConnection:
    """A channel to the cluster shared by a client's APIs (KV, lease, watch, recipes)."""

    def __init__(
        self,
        endpoints: str | Sequence[str],
        *,
        dial_timeout: float,
        timeout: float | None,
        retry_timeout: float,
        keepalive_time: float | None,
        keepalive_timeout: float,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if dial_timeout <= 0:
            raise exc.InvalidArgumentError(f"dial_timeout must be > 0, not {dial_timeout}")
        self.endpoints = parse_endpoints(endpoints)
        self.dial_timeout = dial_timeout
        self.timeout = timeout
        self.retry_timeout = retry_timeout
        self.metadata: tuple[tuple[str, str], ...] | None = None
        # Set by the auth layer: refreshes ``metadata`` (the token) after InvalidAuthTokenError.
        self.reauthenticate: Callable[[], Awaitable[None]] | None = None
        self.closed = False
        secure = any(e.secure for e in self.endpoints)
        if secure and credentials is None:
            credentials = grpc.ssl_channel_credentials()
        self.target = grpc_target(self.endpoints)
        self.channel = backend.create_channel(
            self.target,
            credentials,
            channel_options(
                keepalive_time=keepalive_time, keepalive_timeout=keepalive_timeout, extra=options
            ),
        )
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)
        self.cluster = rpc_pb2_grpc.ClusterStub(self.channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(self.channel)
        self.auth = rpc_pb2_grpc.AuthStub(self.channel)

    def check_open(self) -> None:
        """Raise ClientClosedError once the client is closed."""
        if self.closed:
            raise exc.ClientClosedError("the client is closed")

    async def connect(self) -> None:
        """Wait until a member is reachable, at most ``dial_timeout`` seconds."""
        self.check_open()
        if not await backend.channel_ready(self.channel, self.dial_timeout):
            names = ", ".join(str(e) for e in self.endpoints)
            raise exc.ConnectionFailedError(
                f"could not connect to etcd at {names} within {self.dial_timeout}s"
            )

    async def unary(
        self,
        method: Any,
        request: Any,
        timeout: float | None,
        mutating: bool,
        what: str = "",
    ) -> Any:
        """Call a unary RPC. Safe calls that fail on connection trouble are retried (tenacity,
        bounded exponential backoff) until ``timeout`` or the client's retry timeout runs out."""
        if self.closed:
            raise exc.ClientClosedError("the client is closed")
        if timeout is None:
            timeout = self.timeout
        start = backend.monotonic()
        try:
            return await method(request, timeout=timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            mapped = map_rpc_error(error, mutating=mutating, what=what)
            if isinstance(mapped, exc.InvalidAuthTokenError) and self.reauthenticate is not None:
                # The token expired (or the member changed): renew it once, then retry once.
                await self.reauthenticate()
                try:
                    return await method(request, timeout=timeout, metadata=self.metadata)
                except grpc.RpcError as again:
                    raise map_rpc_error(again, mutating=mutating, what=what) from again
            if not _retryable(mapped, mutating):
                raise mapped from error
            first = mapped
        budget = timeout if timeout is not None else self.retry_timeout
        return await self._retry(method, request, start + budget, mutating, what, first)

    async def _retry(
        self,
        method: Any,
        request: Any,
        deadline: float,
        mutating: bool,
        what: str,
        first: exc.EtcdError,
    ) -> Any:
        last: exc.EtcdError = first
        retrying = AsyncRetrying(
            stop=stop_after_delay(max(deadline - backend.monotonic(), 0.0)),
            wait=wait_random_exponential(multiplier=0.02, max=0.5),
            retry=retry_if_exception(lambda e: _retryable(e, mutating)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    self.check_open()
                    remaining = deadline - backend.monotonic()
                    if remaining <= 0:
                        raise last
                    try:
                        return await method(request, timeout=remaining, metadata=self.metadata)
                    except grpc.RpcError as error:
                        last = map_rpc_error(error, mutating=mutating, what=what)
                        raise last from error
        except exc.EtcdError:
            raise
        raise last  # pragma: no cover - tenacity always returns or raises above

    async def close(self) -> None:
        """Close the channel; later calls raise ClientClosedError."""
        if not self.closed:
            self.closed = True
            await backend.close_channel(self.channel)
