"""The client: one connection to an etcd cluster and the APIs built on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from .._core.keys import KeyLike
from ._connection import AsyncConnection
from .kv import AsyncKV
from .lease import AsyncLeaseAPI
from .watch import AsyncWatcher, WatchFilter, _AsyncWatchHub


class AsyncClient(AsyncKV):
    """An etcd v3 client (asyncio). ``Client`` is the same API without ``await``.

    ::

        async with AsyncClient(endpoints=["127.0.0.1:2379"]) as client:
            await client.put("/hi", "hello")
            print((await client.get("/hi")).value)

    ``endpoints``: one or more ``host:port`` (``http://``/``https://`` accepted); the channel
    fails over between them. ``dial_timeout``: how long ``connect()`` (and entering the context
    manager) waits for a member. ``timeout``: default per-call deadline (None: no deadline, but
    retries of safe calls stop after ``retry_timeout``). ``keepalive_time`` /
    ``keepalive_timeout``: gRPC pings that detect a dead member. ``credentials`` /
    ``options``: passed to gRPC for TLS and tuning.

    KV verbs are methods of the client and also of ``client.kv`` (like Go's ``Client.KV``);
    leases are under ``client.lease``; ``client.watch(...)`` opens a watch.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = ("127.0.0.1:2379",),
        *,
        dial_timeout: float = 5.0,
        timeout: float | None = None,
        retry_timeout: float = 10.0,
        keepalive_time: float | None = 10.0,
        keepalive_timeout: float = 3.0,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._conn = AsyncConnection(
            endpoints,
            dial_timeout=dial_timeout,
            timeout=timeout,
            retry_timeout=retry_timeout,
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            credentials=credentials,
            options=options,
        )
        self.lease = AsyncLeaseAPI(self._conn)
        self._watch_hub = _AsyncWatchHub(self._conn)

    def __repr__(self) -> str:
        state = "closed" if self._conn.closed else "open"
        return f"<{type(self).__name__} {self._conn.target} {state}>"

    @property
    def kv(self) -> AsyncKV:
        """The KV API (the client itself; kept for Go's ``client.KV`` shape)."""
        return self

    @property
    def endpoints(self) -> list[str]:
        """The endpoints this client was given."""
        return [str(e) for e in self._conn.endpoints]

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._conn.closed

    async def connect(self) -> AsyncClient:
        """Wait until a member is reachable (at most ``dial_timeout``), else raise
        ConnectionFailedError. Calls made without connecting first connect on their own."""
        await self._conn.connect()
        return self

    def watch(
        self,
        key: KeyLike,
        *,
        prefix: bool = False,
        range_end: KeyLike | None = None,
        start_revision: int | None = None,
        prev_kv: bool = False,
        filters: Sequence[WatchFilter] = (),
        progress_notify: bool = False,
        timeout: float | None = None,
    ) -> AsyncWatcher:
        """Watch a key (or prefix / range) from ``start_revision`` (default: from now).

        Returns a watcher to iterate (or use as a context manager); see ``AsyncWatcher``.
        """
        self._conn.check_open()
        return AsyncWatcher(
            self._watch_hub,
            key,
            prefix=prefix,
            range_end=range_end,
            start_revision=start_revision,
            prev_kv=prev_kv,
            filters=tuple(filters),
            progress_notify=progress_notify,
            timeout=timeout,
        )

    async def close(self) -> None:
        """Stop watches and keep-alives and close the connection (idempotent)."""
        if self._conn.closed:
            return
        await self._watch_hub.close()
        await self.lease.close()
        await self._conn.close()

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
