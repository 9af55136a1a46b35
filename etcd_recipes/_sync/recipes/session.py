# GENERATED from etcd_recipes/_async/recipes/session.py by scripts/unasync.py -- do not edit.
"""Session: one lease kept alive in the background, shared by the recipes built on it.

Like Go's ``concurrency.Session``: locks, elections and registrations bind their keys to the
session's lease, so when the process dies (or is cut off past the TTL) etcd deletes them all.
``lost`` / ``wait_lost()`` / ``add_lost_callback()`` tell everything built on the session that
its ownership is void.

Keys: none of its own. etcd calls: LeaseGrant, LeaseKeepAlive (stream), LeaseRevoke.

Error handling: if refreshes fail (member down, network cut) the keep-alive retries on any
reachable member; only when etcd reports the lease gone, or ``ttl`` seconds pass (monotonic
clock, counted from before the last successful refresh was sent) without a refresh, is the
session lost. A lost session never comes back: create a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._exceptions import ClientClosedError, InvalidArgumentError, LeaseNotFoundError
from .. import _backend as backend
from ..lease import Lease

if TYPE_CHECKING:
    from ..client import Client


class Session:
    """A kept-alive lease for recipes. Start it with ``session.start()`` or ``with``."""

    def __init__(self, client: Client, ttl: int = 60, *, lease: Lease | None = None):
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise InvalidArgumentError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.client = client
        self.ttl = ttl
        self._lease = lease
        self._closed = False
        self._callbacks: list[Callable[[Session], Any]] = []
        self._start_lock = backend.Lock()

    def __repr__(self) -> str:
        lease = f"{self._lease.id:#x}" if self._lease else "none"
        return f"<{type(self).__name__} lease={lease} ttl={self.ttl} alive={self.is_alive}>"

    def start(self) -> Session:
        """Grant the lease and start keeping it alive (idempotent)."""
        if self._closed:
            raise ClientClosedError("the session is closed")
        with self._start_lock:
            if self._lease is None:
                self._lease = self.client.lease.grant(self.ttl)
            if not self._lease.is_kept_alive and not self._lease.lost:
                self._lease.keep_alive(self._on_lease_lost)
        return self

    @property
    def lease(self) -> Lease:
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

    def wait_lost(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until the session is lost; True if it was."""
        if self._closed:
            return True
        return self.lease.wait_lost(timeout)

    def add_lost_callback(self, callback: Callable[[Session], Any]) -> None:
        """Call ``callback(session)`` once when the session's lease is lost."""
        if self.lost:
            callback(self)
        else:
            self._callbacks.append(callback)

    def _on_lease_lost(self, lease: Lease) -> None:
        for callback in self._callbacks:
            callback(self)

    def close(self) -> None:
        """Revoke the lease (deleting every key bound to it) and stop the keep-alive."""
        if self._closed:
            return
        self._closed = True
        if self._lease is not None and not self._lease.lost:
            try:
                self._lease.revoke()
            except (LeaseNotFoundError, ClientClosedError):
                pass
            self._lease._mark_lost("session closed")

    def __enter__(self) -> Session:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
