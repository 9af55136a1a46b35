"""Session: one lease kept alive in the background, shared by the recipes built on it.

Like Go's ``concurrency.Session``: locks, elections and registrations bind their keys to the
session's lease, so when the process dies (or is cut off past the TTL) etcd deletes them all.
``lost`` / ``wait_lost()`` / ``add_lost_callback()`` tell everything built on the session that
its ownership is void.

Keys: none of its own. etcd calls: LeaseGrant, LeaseKeepAlive (stream), LeaseRevoke.

Error handling: if refreshes fail (member down, network cut) the keep-alive retries on any
reachable member; only when etcd reports the lease gone, or ``ttl`` seconds pass (monotonic
clock, counted from before the last successful refresh was sent) without a refresh, is the
session lost. A lost session never comes back: create a new one. Recipes waiting or holding on
a lost session raise ``SessionExpiredError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._core.locking import SessionExpiredError
from ..._exceptions import ClientClosedError, InvalidArgumentError, LeaseNotFoundError, RecipeError
from .. import _backend as backend
from ..lease import AsyncLease

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["AsyncSession", "SessionExpiredError"]

log = logging.getLogger("etcd_recipes.session")


class AsyncSession:
    """A kept-alive lease for recipes. Start it with ``await session.start()`` or ``async with``."""

    def __init__(self, client: AsyncClient, ttl: int = 60, *, lease: AsyncLease | None = None):
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise InvalidArgumentError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.client = client
        self.ttl = ttl
        self._lease = lease
        self._closed = False
        self._callbacks: list[Callable[[AsyncSession], Any]] = []
        self._start_lock = backend.Lock()
        self._claims: set[bytes] = set()
        self._lost_event = backend.Event()  # set once the lost callbacks have run
        self._watching = False

    def __repr__(self) -> str:
        lease = f"{self._lease.id:#x}" if self._lease else "none"
        return f"<{type(self).__name__} lease={lease} ttl={self.ttl} alive={self.is_alive}>"

    async def start(self) -> AsyncSession:
        """Grant the lease and start keeping it alive (idempotent)."""
        if self._closed:
            raise ClientClosedError("the session is closed")
        async with self._start_lock:
            if self._lease is None:
                self._lease = await self.client.lease.grant(self.ttl)
            if not self._watching:  # once, even for a lease kept alive by someone else
                self._watching = True
                self._lease.add_lost_callback(self._on_lease_lost)
            if not self._lease.is_kept_alive and not self._lease.lost:
                await self._lease.keep_alive()
        return self

    @property
    def lease(self) -> AsyncLease:
        """The session's lease (after ``start()``)."""
        if self._lease is None:
            raise InvalidArgumentError("the session is not started")
        return self._lease

    @property
    def lease_id(self) -> int:
        """The session's lease id (after ``start()``)."""
        return self.lease.id

    @property
    def is_alive(self) -> bool:
        """True while the lease is kept alive and the session is open."""
        return self._lease is not None and not self._lease.lost and not self._closed

    @property
    def lost(self) -> bool:
        """True once the lease was lost (expired or revoked elsewhere) or the session closed."""
        return self._closed or (self._lease is not None and self._lease.lost)

    async def wait_lost(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until the session is lost and its callbacks have run; True if so."""
        if self._closed:
            return True
        return await backend.wait_event(self._lost_event, timeout)

    def add_lost_callback(self, callback: Callable[[AsyncSession], Any]) -> None:
        """Call ``callback(session)`` once when the session's lease is lost."""
        if self.lost:
            callback(self)
        else:
            self._callbacks.append(callback)

    def remove_lost_callback(self, callback: Callable[[AsyncSession], Any]) -> None:
        """Forget a callback given to ``add_lost_callback`` (no error if it is not there)."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def _on_lease_lost(self, lease: AsyncLease) -> None:
        for callback in list(self._callbacks):
            try:
                callback(self)
            except Exception:
                log.exception("session lost callback failed")
        self._lost_event.set()

    def _claim(self, key: bytes) -> None:
        """Reserve a contender key for one recipe object: two objects using one key on one
        session would both believe they hold what the key stands for."""
        if key in self._claims:
            raise RecipeError(
                f"{key!r} is already used by another recipe object on this session "
                "(use one session per holder, or let the recipe create its own)"
            )
        self._claims.add(key)

    def _unclaim(self, key: bytes) -> None:
        self._claims.discard(key)

    async def close(self) -> bool:
        """Revoke the lease (deleting every key bound to it) and stop the keep-alive.

        Returns True if this call revoked a live lease; False if the session was already closed
        or lost, or etcd no longer had the lease (it expired: the keys were already gone).
        """
        if self._closed:
            return False
        self._closed = True
        revoked = False
        if self._lease is not None and not self._lease.lost:
            # Stop refreshing first: if the revoke hangs (a proposal lost with a dead leader is
            # answered only after etcd's request timeout), the lease still ends within its TTL.
            await self._lease.stop_keep_alive()
            try:
                await self._lease.revoke()
                revoked = True
            except (LeaseNotFoundError, ClientClosedError):
                pass
            self._lease._mark_lost("session closed")
        return revoked

    async def __aenter__(self) -> AsyncSession:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
