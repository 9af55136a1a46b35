# GENERATED from etcd_recipes/_async/client.py by scripts/unasync.py -- do not edit.
"""The client: one connection to an etcd cluster and the APIs built on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc

from .._core.keys import KeyLike
from ._connection import Connection
from .kv import KV
from .lease import LeaseAPI
from .recipes.session import Session
from .watch import Watcher, WatchFilter, _AsyncWatchHub

if TYPE_CHECKING:
    from .recipes.barrier import Barrier, DoubleBarrier
    from .recipes.election import Election
    from .recipes.lock import Lock
    from .recipes.registry import ServiceRegistry
    from .recipes.rwlock import RWLock
    from .recipes.scheduler import Scheduler
    from .recipes.semaphore import Semaphore


class Client(KV):
    """An etcd v3 client (asyncio). ``Client`` is the same API without ``await``.

    ::

        with Client(endpoints=["127.0.0.1:2379"]) as client:
            client.put("/hi", "hello")
            print((client.get("/hi")).value)

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
        self._conn = Connection(
            endpoints,
            dial_timeout=dial_timeout,
            timeout=timeout,
            retry_timeout=retry_timeout,
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            credentials=credentials,
            options=options,
        )
        self.lease = LeaseAPI(self._conn)
        self._watch_hub = _AsyncWatchHub(self._conn)

    def __repr__(self) -> str:
        state = "closed" if self._conn.closed else "open"
        return f"<{type(self).__name__} {self._conn.target} {state}>"

    @property
    def kv(self) -> KV:
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

    def connect(self) -> Client:
        """Wait until a member is reachable (at most ``dial_timeout``), else raise
        ConnectionFailedError. Calls made without connecting first connect on their own."""
        self._conn.connect()
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
    ) -> Watcher:
        """Watch a key (or prefix / range) from ``start_revision`` (default: from now).

        Returns a watcher to iterate (or use as a context manager); see ``Watcher``.
        """
        self._conn.check_open()
        return Watcher(
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

    def session(self, ttl: int = 60) -> Session:
        """A session (one kept-alive lease) for recipes; start it with ``with``."""
        return Session(self, ttl)

    def lock(self, name: str, **options: Any) -> Lock:
        """A distributed mutex compatible with Go's ``concurrency.Mutex`` (see ``Lock``)."""
        from .recipes.lock import Lock

        return Lock(self, name, **options)

    def rwlock(self, name: str, **options: Any) -> RWLock:
        """A readers-writer lock (see ``RWLock``)."""
        from .recipes.rwlock import RWLock

        return RWLock(self, name, **options)

    def semaphore(self, name: str, limit: int, **options: Any) -> Semaphore:
        """A counting semaphore with at most ``limit`` holders (see ``Semaphore``)."""
        from .recipes.semaphore import Semaphore

        return Semaphore(self, name, limit, **options)

    def barrier(self, name: str, **options: Any) -> Barrier:
        """A barrier that blocks waiters until it is released (see ``Barrier``)."""
        from .recipes.barrier import Barrier

        return Barrier(self, name, **options)

    def double_barrier(self, name: str, count: int, **options: Any) -> DoubleBarrier:
        """A double barrier for ``count`` participants (see ``DoubleBarrier``)."""
        from .recipes.barrier import DoubleBarrier

        return DoubleBarrier(self, name, count, **options)

    def election(self, name: str, **options: Any) -> Election:
        """A leader election compatible with Go's ``concurrency.Election``."""
        from .recipes.election import Election

        return Election(self, name, **options)

    def registry(self, namespace: str = "/services/", **options: Any) -> ServiceRegistry:
        """A service registry with a watch-fed discovery cache (see ``ServiceRegistry``)."""
        from .recipes.registry import ServiceRegistry

        return ServiceRegistry(self, namespace, **options)

    def scheduler(self, prefix: str = "/job/", **options: Any) -> Scheduler:
        """A distributed cron scheduler whose jobs live under ``prefix`` (see ``Scheduler``)."""
        from .recipes.scheduler import Scheduler

        return Scheduler(self, prefix, **options)

    def close(self) -> None:
        """Stop watches and keep-alives and close the connection (idempotent)."""
        if self._conn.closed:
            return
        self._watch_hub.close()
        self.lease.close()
        self._conn.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
