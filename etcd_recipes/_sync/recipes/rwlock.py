# GENERATED from etcd_recipes/_async/recipes/rwlock.py by scripts/unasync.py -- do not edit.
"""Read-write lock: many readers or one writer, writers not starved (etcd's recipes RWMutex).

Keys, bound to each contender's session lease: readers put ``<namespace><name>/read/<lease hex>``,
writers ``<namespace><name>/write/<lease hex>``. Everyone queues in create-revision order:

- a reader waits until no *write* key older than its own is left: it watches the newest older
  write key's DELETE (``get(<name>/write/, max_create_revision=myRev - 1, sort=create desc,
  limit=1)``), from the read's header revision + 1, and reads again;
- a writer waits until no key at all older than its own is left (the newest older one, under
  ``<name>/``), exactly like ``Lock``.

A reader that arrives after a waiting writer queues behind it, so a stream of readers cannot
starve writers; readers that arrive together share the lock.

Both sides are ``Lock`` objects with another key layout: the same ``acquire(blocking,
timeout)``, ``release()``, ``fencing_token`` (strictly increasing from writer to writer),
``is_owner()``, ``guard()``, and the same error handling (see ``lock.py``): a failed or cancelled
acquire deletes its key, a lost session raises ``SessionExpiredError`` while waiting and
``LockLostError`` on release.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._core.keys import KeyLike
from ..._core.locking import contender_key, deadline_after, lock_prefix
from ..._core.ops import Op, SortOrder, SortTarget
from ..._core.types import GetResponse
from .lock import Lock
from .session import Session

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["RWLock", "ReadLock", "WriteLock"]


class RWLock:
    """A readers-writer lock (``client.rwlock(name)``)::

        rw = client.rwlock("catalog")
        with rw.read():           # many at once
            ...
        with rw.write(timeout=5):  # alone
            ...

    ``read()`` and ``write()`` return a new lock object per call (take one per holder); the
    options are those of ``Lock`` and apply to both.
    """

    def __init__(
        self,
        client: Client,
        name: KeyLike,
        *,
        ttl: int = 60,
        session: Session | None = None,
        namespace: KeyLike = "",
        timeout: float | None = None,
        identifier: KeyLike = "",
        on_lost: Callable[[Lock], Any] | None = None,
    ) -> None:
        deadline_after(timeout, 0.0)  # validates
        self.client = client
        self.name = name
        self.prefix = lock_prefix(namespace, name)
        self.timeout = timeout
        self._options: dict[str, Any] = {
            "ttl": ttl,
            "session": session,
            "namespace": namespace,
            "identifier": identifier,
            "on_lost": on_lost,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.prefix!r}>"

    def read(self, *, timeout: float | None = None) -> ReadLock:
        """A shared (reader) side: held together with other readers, never with a writer."""
        timeout = self.timeout if timeout is None else timeout
        return ReadLock(self.client, self.name, timeout=timeout, **self._options)

    def write(self, *, timeout: float | None = None) -> WriteLock:
        """An exclusive (writer) side: held alone."""
        timeout = self.timeout if timeout is None else timeout
        return WriteLock(self.client, self.name, timeout=timeout, **self._options)


class ReadLock(Lock):
    """The reader side of an ``RWLock``: waits only for older writers."""

    def _key_for(self, lease_id: int) -> bytes:
        return contender_key(self.prefix + b"read/", lease_id)

    def _enqueue_check(self) -> Op:
        return Op.get(self.prefix + b"write/", prefix=True, count_only=True)

    def _ready_at_enqueue(self, check: GetResponse, rev: int) -> bool:
        return check.count == 0  # no writer at all, so none older than us

    def _blocker_at_enqueue(self, check: GetResponse, rev: int) -> tuple[bytes, int] | None:
        return None  # a count does not name the blocker: read it

    def _blocker_read(self, rev: int) -> Op:
        return Op.get(
            self.prefix + b"write/",
            prefix=True,
            max_create_revision=rev - 1,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.DESCEND,
            limit=1,
            keys_only=True,
        )


class WriteLock(Lock):
    """The writer side of an ``RWLock``: waits for every older reader and writer."""

    def _key_for(self, lease_id: int) -> bytes:
        return contender_key(self.prefix + b"write/", lease_id)
