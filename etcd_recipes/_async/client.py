"""The client: one connection to an etcd cluster and the APIs built on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from .._core.keys import KeyLike
from .._core.state import ConnectionState, StateListener
from .._core.tls import PemSource, channel_security
from .._core.types import WatchFilter, WatchResponse
from .._exceptions import ConnectionFailedError
from . import _backend as backend
from ._connection import AsyncConnection
from .auth import AsyncAuthAPI, auth_connection_factory, watcher_class
from .cluster import AsyncClusterAPI
from .kv import AsyncKV
from .lease import AsyncLeaseAPI
from .maintenance import AsyncMaintenanceAPI, explain_connection_failure
from .recipes.session import AsyncSession
from .watch import AsyncWatcher, _AsyncWatchHub

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

    ``endpoints``: one or more ``host:port`` (``http://``/``https://`` accepted); the client
    uses one healthy member at a time and fails over to another when it dies, pauses or loses
    its leader (docs/client.md, "Failover"). ``dial_timeout``: how long ``connect()`` (and
    entering the context manager) waits for a member with a leader. ``timeout``: default
    per-call deadline (None: none, but safe calls stop retrying after ``retry_timeout``).
    ``keepalive_time`` / ``keepalive_timeout``: gRPC pings that detect a dead member (etcd
    refuses pings more often than every 5 s on a quiet connection, hence 6 s).
    ``auto_sync_interval``: refresh the endpoints from the cluster's member list every so many
    seconds (None: never; ``sync_endpoints()`` does it once). ``credentials`` / ``options``:
    passed to gRPC for TLS and tuning.

    ``state`` is CONNECTED, SUSPENDED or LOST (``add_state_listener(cb)``), as in Curator and
    kazoo; every error says whether a write may have been applied (``outcome_unknown``).

    TLS (see docs/security.md): ``ca_cert`` (the CA to trust; default: the system's roots),
    ``cert`` + ``key`` (a client certificate, for mutual TLS), ``server_name`` (the name to
    verify in the server's certificate instead of the endpoint's host). Each PEM argument is a
    file path or the PEM bytes. TLS is on with ``https://`` endpoints or any of these; it is
    always verified and never falls back to plaintext. ``username`` / ``password``: the client
    authenticates when it connects and renews its token when etcd refuses it as expired.

    KV verbs are methods of the client and also of ``client.kv`` (like Go's ``Client.KV``);
    leases are under ``client.lease``; ``client.watch(...)`` opens a watch; ``client.auth``,
    ``client.cluster`` and ``client.maintenance`` are etcd's administration APIs.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = ("127.0.0.1:2379",),
        *,
        dial_timeout: float = 5.0,
        timeout: float | None = None,
        retry_timeout: float = 10.0,
        keepalive_time: float | None = 6.0,
        keepalive_timeout: float = 2.0,
        auto_sync_interval: float | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        username: str | None = None,
        password: str | None = None,
        ca_cert: PemSource | None = None,
        cert: PemSource | None = None,
        key: PemSource | None = None,
        server_name: str | None = None,
    ) -> None:
        credentials, options = channel_security(
            endpoints,
            ca_cert=ca_cert,
            cert=cert,
            key=key,
            server_name=server_name,
            credentials=credentials,
            options=options,
        )
        make_connection = auth_connection_factory(username, password)
        self._conn: AsyncConnection = make_connection(
            endpoints,
            dial_timeout=dial_timeout,
            timeout=timeout,
            retry_timeout=retry_timeout,
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            credentials=credentials,
            options=options,
            auto_sync_interval=auto_sync_interval,
        )
        self.lease = AsyncLeaseAPI(self._conn)
        self._watch_hub = _AsyncWatchHub(self._conn)
        self._watcher_class = watcher_class(self._conn)
        self.auth = AsyncAuthAPI(self._conn)
        self.cluster = AsyncClusterAPI(self._conn)
        self.maintenance = AsyncMaintenanceAPI(self._conn, credentials=credentials, options=options)

    def __repr__(self) -> str:
        state = "closed" if self._conn.closed else "open"
        return f"<{type(self).__name__} {self._conn.target} {state}>"

    @property
    def kv(self) -> AsyncKV:
        """The KV API (the client itself; kept for Go's ``client.KV`` shape)."""
        return self

    @property
    def endpoints(self) -> list[str]:
        """The endpoints in use: those given, or the member list's after ``sync_endpoints()``."""
        return [str(e) for e in self._conn.endpoints]

    @property
    def endpoint(self) -> str:
        """The endpoint calls go to now (it changes when its member fails)."""
        return str(self._conn.member.endpoint)

    async def sync_endpoints(self, *, timeout: float | None = None) -> list[str]:
        """Replace the endpoints by the client URLs of the cluster's started voting members
        (like Go's ``Client.Sync``); returns them."""
        return await self._conn.sync_endpoints(timeout)

    @property
    def state(self) -> ConnectionState:
        """CONNECTED (a round trip succeeded lately), SUSPENDED (a call failed for connection
        reasons and nothing succeeded since) or LOST (not connected yet, closed, or nothing
        succeeded for ``retry_timeout``); see docs/client.md."""
        return self._conn.state

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(state)`` on every change of ``state`` (on the event loop / the thread
        that noticed it; keep it short)."""
        self._conn.add_state_listener(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``."""
        self._conn.remove_state_listener(listener)

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._conn.closed

    async def connect(self) -> AsyncClient:
        """Wait until a member is reachable (at most ``dial_timeout``), else raise
        ConnectionFailedError. Calls made without connecting first connect on their own."""
        try:
            await self._conn.connect()
        except ConnectionFailedError as error:
            tls = self.maintenance._credentials is not None
            raise await explain_connection_failure(self._conn, error, tls=tls) from error
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
        max_queue: int = 100_000,
        on_events: Callable[[WatchResponse], object] | None = None,
    ) -> AsyncWatcher:
        """Watch a key (or prefix / range) from ``start_revision`` (default: from now).

        Returns a watcher to iterate (or use as a context manager); see ``AsyncWatcher``. It
        resumes on another member after a failure, losing and repeating nothing; ``max_queue``
        bounds the events waiting unread (beyond it: WatchOverflowError). ``on_events``: a quick,
        never-blocking function called with each batch on the watch reader instead of queueing
        it (then ``read()`` only reports the watch's end).
        """
        self._conn.check_open()
        return self._watcher_class(
            self._watch_hub,
            key,
            prefix=prefix,
            range_end=range_end,
            start_revision=start_revision,
            prev_kv=prev_kv,
            filters=tuple(filters),
            progress_notify=progress_notify,
            timeout=timeout,
            max_queue=max_queue,
            on_events=on_events,
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
        backend.settle_closed_calls()

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
