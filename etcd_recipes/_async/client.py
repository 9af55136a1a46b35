"""The client: one connection to an etcd cluster and the APIs built on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc

from .._core.keys import KeyLike
from ._connection import AsyncConnection
from .kv import AsyncKV
from .lease import AsyncLeaseAPI
from .recipes.session import AsyncSession
from .watch import AsyncWatcher, WatchFilter, _AsyncWatchHub

if TYPE_CHECKING:
    from .recipes.barrier import AsyncBarrier, AsyncDoubleBarrier
    from .recipes.election import AsyncElection
    from .recipes.lock import AsyncLock
    from .recipes.registry import AsyncServiceRegistry
    from .recipes.rwlock import AsyncRWLock
    from .recipes.scheduler import AsyncScheduler
    from .recipes.semaphore import AsyncSemaphore


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

    # Recipes: reached from the client so that typing ``client.`` finds them.

    def session(self, ttl: int = 60) -> AsyncSession:
        """A session (one kept-alive lease) for recipes; start it with ``async with``."""
        return AsyncSession(self, ttl)

    def lock(self, name: str, **options: Any) -> AsyncLock:
        """A distributed mutex compatible with Go's ``concurrency.Mutex`` (see ``AsyncLock``)."""
        from .recipes.lock import AsyncLock

        return AsyncLock(self, name, **options)

    def rwlock(self, name: str, **options: Any) -> AsyncRWLock:
        """A readers-writer lock (see ``AsyncRWLock``)."""
        from .recipes.rwlock import AsyncRWLock

        return AsyncRWLock(self, name, **options)

    def semaphore(self, name: str, limit: int, **options: Any) -> AsyncSemaphore:
        """A counting semaphore with at most ``limit`` holders (see ``AsyncSemaphore``)."""
        from .recipes.semaphore import AsyncSemaphore

        return AsyncSemaphore(self, name, limit, **options)

    def barrier(self, name: str, **options: Any) -> AsyncBarrier:
        """A barrier that blocks waiters until it is released (see ``AsyncBarrier``)."""
        from .recipes.barrier import AsyncBarrier

        return AsyncBarrier(self, name, **options)

    def double_barrier(self, name: str, count: int, **options: Any) -> AsyncDoubleBarrier:
        """A double barrier for ``count`` participants (see ``AsyncDoubleBarrier``)."""
        from .recipes.barrier import AsyncDoubleBarrier

        return AsyncDoubleBarrier(self, name, count, **options)

    def election(self, name: str, **options: Any) -> AsyncElection:
        """A leader election compatible with Go's ``concurrency.Election``."""
        from .recipes.election import AsyncElection

        return AsyncElection(self, name, **options)

    def registry(self, namespace: str = "/services/", **options: Any) -> AsyncServiceRegistry:
        """A service registry with a watch-fed discovery cache (see ``AsyncServiceRegistry``)."""
        from .recipes.registry import AsyncServiceRegistry

        return AsyncServiceRegistry(self, namespace, **options)

    def scheduler(self, prefix: str = "/job/", **options: Any) -> AsyncScheduler:
        """A distributed cron scheduler whose jobs live under ``prefix`` (see ``AsyncScheduler``)."""
        from .recipes.scheduler import AsyncScheduler

        return AsyncScheduler(self, prefix, **options)

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
