# GENERATED from etcd_recipes/_async/recipes/lock.py by scripts/unasync.py -- do not edit.
"""Lock: a distributed mutex with fencing tokens, compatible with Go's ``concurrency.Mutex``.

Keys (Go's, so that ``etcdctl lock <name>``, Go's ``concurrency.NewMutex`` and this class all
exclude each other): every contender puts ``<namespace><name>/<lease id in hex>``, bound to its
session's lease. The holder is the key with the lowest create revision under ``<name>/``; that
create revision is the holder's fencing token, larger for every new holder.

Requests and compares:

- acquire, one transaction (all an uncontended acquire costs)::

      If(create_revision(myKey) == 0)
      Then(put(myKey, identifier, lease), get-newest-two(<name>/))
      Else(get(myKey), get-newest-two(<name>/))

  After the put our key is the newest: the second key read, if any, is our predecessor.
- a waiter waits only for its predecessor, the newest key older than its own (read by the
  acquire transaction, and later by ``get(<name>/, max_create_revision=myRev - 1, sort=create
  desc, limit=1)``, at revision R): it watches that key's DELETE from R + 1. Never from R or below: etcd serves a watch that
  starts at or below its current revision from a catch-up loop that runs every ~100 ms. So the
  watch is created from "now", which is R + 1 unless other contenders wrote since the read; then
  it reads again instead (nothing is missed either way: the delete comes after R). One release
  wakes one waiter: no herd. Woken, it reads its own key and its new predecessor in one
  read-only transaction, and again until none is left; if its own key is gone, its session
  expired: ``SessionExpiredError``, never "acquired".
- release: ``If(create_revision(myKey) == token) Then(delete(myKey))``, or, with the lock's
  own session, revoking that session's lease (which deletes the key).
- ``is_owner()`` is ``create_revision(myKey) == fencing_token``, for the caller's transactions;
  ``guard()`` starts one: ``lock.guard().then(Op.put(k, v)).commit()``.

Reentrancy: none, as in Go. A lock object is one holder: acquiring it again while it is held
(or being acquired) raises ``RecipeError`` at once instead of deadlocking. Create one object per
task or thread (``client.lock(name)`` is cheap); two objects contend like two processes.

Sessions: without ``session=``, each acquire grants a lease of ``ttl`` seconds, keeps it alive
while held and revokes it on release (like ``etcdctl lock``): nothing outlives the lock. Pass a
shared ``session=`` to save the grant and revoke (two requests per cycle instead of three); one
session then holds a given lock name once.

Error handling:

- Connection trouble while acquiring: reads are retried on any member and the watch resumes from
  its revision, so no release is missed; a write whose outcome is unknown raises, after the
  acquire deleted its key (best effort: the key goes with the lease in any case).
- ``timeout=``, ``blocking=False`` and cancellation delete the key (or revoke the lock's own
  session): a failed acquire leaves nothing behind.
- Losing the session while waiting: ``SessionExpiredError``. While holding: ``lost`` becomes True,
  the ``on_lost`` callback runs, and ``release()`` (and leaving ``with``) raises ``LockLostError``.
  etcd has then deleted the key, or will once the TTL passes, and another process may hold the
  lock. A process paused past its TTL cannot know that before it acts: only writes made through
  ``guard()``/``is_owner()``, or checked against ``fencing_token`` by the storage, are safe.
- ``release()`` that fails on the connection raises and can be called again; with the lock's own
  session the lease is no longer refreshed, so the lock frees itself within ``ttl`` anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._core.keys import KeyLike, to_bytes
from ..._core.locking import (
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    SessionExpiredError,
    contender_key,
    deadline_after,
    lock_prefix,
    time_left,
)
from ..._core.ops import Compare, Op, SortOrder, SortTarget
from ..._core.types import GetResponse, KeyValue, TxnResponse, WatchFilter
from ..._exceptions import (
    EtcdConnectionError,
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
    LeaseNotFoundError,
    RecipeError,
)
from .. import _backend as backend
from ..txn import Txn
from .session import Session

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "Lock",
    "LockLostError",
    "LockNotHeldError",
    "LockTimeoutError",
    "SessionExpiredError",
    "wait_for_event",
]

log = logging.getLogger("etcd_recipes.lock")

_Blocked = tuple[tuple[bytes, int], int]  # (blocker key, its create revision), read at revision

_ATTEMPT = 2.0  # seconds for the first attempt of an acquire's request (doubling, up to 8)
_MIN_BUDGET = 0.25  # seconds an acquire's request gets even when the deadline is (nearly) due


class Lock:
    """A distributed mutex (``client.lock(name)``)::

        with client.lock("orders", ttl=10, timeout=5) as lock:
            lock.guard().then(Op.put("/orders/next", "42")).commit()

    ``acquire(blocking=True, timeout=None)`` returns True once held, False when ``blocking`` is
    False and the lock is taken, or when ``timeout`` seconds passed (default: the constructor's
    ``timeout``; None waits forever). ``release()`` frees it. Entering ``with`` raises
    ``LockTimeoutError`` instead of returning False.

    Options: ``ttl`` of the lock's own session; ``session`` to share one instead; ``namespace``
    prefixed to every key; ``timeout`` for ``acquire`` and ``with``; ``identifier`` stored
    as the contender key's value (``holder()`` shows it); ``on_lost(lock)`` called when the
    session is lost while the lock is held.
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
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise InvalidArgumentError(f"ttl must be a positive number of seconds, not {ttl!r}")
        deadline_after(timeout, 0.0)  # validates
        self.client = client
        self.name = name
        self.prefix = lock_prefix(namespace, name)
        self.ttl = ttl
        self.timeout = timeout
        self.identifier = to_bytes(identifier, "identifier")
        self.on_lost = on_lost
        self._shared_session = session
        self._session: Session | None = None  # while acquiring or holding
        self._key: bytes | None = None
        self._rev = 0
        self._held = False
        self._lost = False
        self._release_unknown = False

    def __repr__(self) -> str:
        state = "lost" if self._lost else f"held token={self._rev}" if self._held else "free"
        return f"<{type(self).__name__} {self.prefix!r} {state}>"

    # The layout of the contenders: what a subclass (rwlock side, semaphore) changes.

    def _key_for(self, lease_id: int) -> bytes:
        return contender_key(self.prefix, lease_id)

    def _enqueue_check(self) -> Op:
        """Read in the acquire transaction, after our put: enough to tell if we hold the lock
        (here: the two newest contenders; after our put, ours and our predecessor)."""
        return Op.get(
            self.prefix,
            prefix=True,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.DESCEND,
            limit=2,
            keys_only=True,
        )

    def _ready_at_enqueue(self, check: GetResponse, rev: int) -> bool:
        return len(check.kvs) < 2

    def _blocker_at_enqueue(self, check: GetResponse, rev: int) -> tuple[bytes, int] | None:
        """What blocks us, told by the acquire transaction's read right after our put (when
        ``_ready_at_enqueue`` said no), or None: ``_wait_turn`` reads it. Here: the second
        newest contender, our predecessor."""
        older = check.kvs[1]
        return older.key, older.create_revision

    def _blocker_read(self, rev: int) -> Op:
        """Read what blocks a contender whose key was created at ``rev``: its predecessor."""
        return Op.get(
            self.prefix,
            prefix=True,
            max_create_revision=rev - 1,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.DESCEND,
            limit=1,
            keys_only=True,
        )

    def _blocker(self, read: GetResponse) -> tuple[bytes, int] | None:
        """The key whose DELETE may let us in, with its create revision (or a prefix, with 0:
        any DELETE under it); None: we are in."""
        return None if read.kv is None else (read.kv.key, read.kv.create_revision)

    # Acquire.

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take the lock: True when held; False if ``blocking`` is False and it is taken, or if
        ``timeout`` seconds passed (None: the constructor's ``timeout``). The key of a failed or
        cancelled attempt is deleted. Raises SessionExpiredError if the session is lost meanwhile.
        """
        if self._session is not None:
            raise RecipeError(
                f"{self!r} is already held or being acquired: a lock object is not reentrant "
                "(use one object per task or thread)"
            )
        deadline = deadline_after(self.timeout if timeout is None else timeout, _now())
        if not blocking:
            deadline = None
        try:
            session = self._begin()
            rev, ready, known = self._enqueue(session, deadline)
            if not ready and blocking:
                ready = self._wait_turn(rev, deadline, known)
        except BaseException as error:
            self._abandon()
            if isinstance(error, EtcdTimeoutError) and _passed(deadline):
                return False
            raise
        if not ready:
            self._abandon()
            return False
        self._rev, self._held = rev, True
        return True

    def _begin(self) -> Session:
        session = self._shared_session or Session(self.client, self.ttl)
        self._session, self._lost = session, False
        session.start()
        if session.lost:
            raise SessionExpiredError(f"the session of {self!r} is lost: create a new one")
        key = self._key_for(session.lease_id)
        session._claim(key)
        self._key = key
        session.add_lost_callback(self._on_session_lost)
        return session

    def _enqueue(
        self, session: Session, deadline: float | None
    ) -> tuple[int, bool, _Blocked | None]:
        """Put our key (or find it from an earlier attempt); returns its create revision,
        whether we hold the lock already, and if not (and our put just happened) what blocks us
        with the revision it was read at."""
        key = self._key
        assert key is not None
        read = self._enqueue_check()
        put = Op.put(key, self.identifier, lease=session.lease_id)
        response = self._commit(
            [Compare.create_revision(key) == 0], [put, read], [Op.get(key), read], deadline
        )
        check = _read(response, 1)
        if not response.succeeded:
            existing = _read(response, 0).kv
            assert existing is not None  # the compare failed: the key exists
            rev = existing.create_revision
            return rev, self._ready_at_enqueue(check, rev), None  # blocker: read it again
        rev = response.header.revision
        if self._ready_at_enqueue(check, rev):
            return rev, True, None
        blocker = self._blocker_at_enqueue(check, rev)
        return rev, False, None if blocker is None else (blocker, rev)

    def _wait_turn(self, rev: int, deadline: float | None, known: _Blocked | None) -> bool:
        """Wait until nothing older blocks us (True) or the deadline passes (False); ``known``
        is what blocks us and the revision it was read at, if the acquire transaction read it."""
        key = self._key
        assert key is not None and self._session is not None
        while True:
            if known is None:
                reads = [Op.get(key, keys_only=True), self._blocker_read(rev)]
                response = self._commit([], reads, [], deadline)
                mine = _read(response, 0).kv
                if mine is None or mine.create_revision != rev:
                    raise SessionExpiredError(
                        f"{self!r}: our key vanished while waiting (the session's lease expired)"
                    )
                blocker, read_at = self._blocker(_read(response, 1)), response.header.revision
                if blocker is None:
                    return True
            else:
                (blocker, read_at), known = known, None
            if _passed(deadline):
                return False
            woken = wait_for_event(
                self.client,
                blocker[0],
                read_at,
                deadline,
                prefix=not blocker[1],
                session=self._session,
                create_revision=blocker[1],
            )
            if not woken:
                return False

    def _commit(
        self, compares: list[Compare], then: list[Op], else_: list[Op], deadline: float | None
    ) -> TxnResponse:
        """Commit a transaction that is safe to repeat (both of the acquire's are: the put is
        conditional on our key not existing). So it is repeated on connection trouble, and when
        no answer comes within a few seconds: etcd answers a request lost with a paused leader
        only after its request timeout (5.5 s), and meanwhile we may be the next holder."""
        attempt = _ATTEMPT
        give_up = deadline if deadline is not None else _now() + self.client._conn.retry_timeout
        while True:
            # Even past the deadline one attempt gets a short budget: acquire(timeout=0) tries.
            timeout = min(attempt, max(give_up - _now(), _MIN_BUDGET))
            try:
                txn = self.client.txn(timeout=timeout).if_(*compares)
                return txn.then(*then).else_(*else_).commit()
            except LeaseNotFoundError:
                raise SessionExpiredError(f"{self!r}: the session's lease expired") from None
            except (EtcdTimeoutError, EtcdConnectionError):
                if _now() >= give_up:
                    raise
                attempt = min(attempt * 2, 8.0)
                backend.sleep(0.02)

    # Holding.

    @property
    def key(self) -> bytes | None:
        """Our contender key while acquiring or holding."""
        return self._key

    @property
    def session(self) -> Session | None:
        """The session whose lease our key is bound to, while acquiring or holding."""
        return self._session

    @property
    def held(self) -> bool:
        """This object's own belief that it holds the lock (no request; see ``is_held()``)."""
        return self._held and not self._lost

    @property
    def lost(self) -> bool:
        """True once the session was lost while the lock was held."""
        return self._lost

    @property
    def fencing_token(self) -> int:
        """The create revision of our key: larger for every new holder. Hand it to storage that
        rejects writes carrying a smaller token than the largest it has seen."""
        if not self._held:
            raise LockNotHeldError(f"{self!r} is not held")
        return self._rev

    def is_owner(self) -> Compare:
        """A compare that holds only while this object's key is the one it acquired with."""
        if not self._held or self._key is None:
            raise LockNotHeldError(f"{self!r} is not held")
        return Compare.create_revision(self._key) == self._rev

    def guard(self, *compares: Compare, timeout: float | None = None) -> Txn:
        """A transaction whose ``then`` runs only while we still hold the lock (and
        ``compares`` hold): check ``.succeeded`` of its commit."""
        return self.client.txn(timeout=timeout).if_(self.is_owner(), *compares)

    def is_held(self) -> bool:
        """Whether this object holds the lock, asked of etcd (a linearizable read of our key)."""
        if not self._held or self._lost or self._key is None:
            return False
        kv = (self.client.get(self._key, keys_only=True)).kv
        return kv is not None and kv.create_revision == self._rev

    def holder(self) -> KeyValue | None:
        """The current holder's key (its value is the holder's ``identifier``), or None."""
        response = self.client.get(
            self.prefix,
            prefix=True,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.ASCEND,
            limit=1,
        )
        return response.kv

    def locked(self) -> bool:
        """Whether anyone holds the lock."""
        return self.holder() is not None

    def _on_session_lost(self, session: Session) -> None:
        if self._held and not self._lost:
            self._lost = True
            log.warning("%r: the session was lost while holding the lock", self)
            if self.on_lost is not None:
                try:
                    self.on_lost(self)
                except Exception:
                    log.exception("on_lost callback failed")

    # Release.

    def release(self) -> None:
        """Free the lock. Raises LockNotHeldError if this object does not hold it, and
        LockLostError if it was held but its session expired meanwhile."""
        session, key = self._session, self._key
        if not self._held or session is None or key is None:
            raise LockNotHeldError(f"{self!r} is not held")
        lost = self._lost
        if session is self._shared_session:
            if not lost:
                try:
                    response = (
                        self.client.txn()
                        .if_(Compare.create_revision(key) == self._rev)
                        .then(Op.delete(key))
                        .commit()
                    )
                except EtcdError as error:
                    self._release_unknown |= error.outcome_unknown
                    raise  # still held: release() may be called again
                # After a delete whose outcome was unknown, a missing key means it worked.
                lost = not response.succeeded and not self._release_unknown
            self._reset()
        else:
            self._reset()
            lost = not session.close() or lost  # revoking deletes the key
        if lost:
            raise LockLostError(f"lock {self.prefix!r} was lost: its session expired meanwhile")

    def _abandon(self) -> None:
        """After a failed or cancelled acquire: delete our key (or revoke our own session)."""
        session, key = self._session, self._key
        self._reset()
        try:
            if session is not None and session is not self._shared_session:
                session.close()
            elif key is not None:
                self.client.delete(key)
        except EtcdError as error:
            log.warning("%r: could not delete %r (%s); it goes with the lease", self, key, error)

    def _reset(self) -> None:
        if self._session is not None:
            self._session.remove_lost_callback(self._on_session_lost)
            if self._key is not None:
                self._session._unclaim(self._key)
        self._session, self._key, self._rev = None, None, 0
        self._held = self._lost = self._release_unknown = False

    def __enter__(self) -> Lock:
        if not self.acquire():
            raise LockTimeoutError(f"could not acquire {self!r} within {self.timeout}s")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.release()
            return
        try:
            self.release()
        except EtcdError as error:  # do not hide the body's exception
            log.warning("%r: release after an exception failed: %s", self, error)


def wait_for_event(
    client: Client,
    key: bytes,
    revision: int,
    deadline: float | None,
    *,
    prefix: bool = False,
    put: bool = False,
    session: Session | None = None,
    create_revision: int = 0,
) -> bool:
    """Wait for a DELETE (or, with ``put``, a PUT) of ``key`` (or of a key under it) after
    ``revision``, the revision of the read that saw the key. True when it happened -- or may
    have: read again. False once ``deadline`` passes. Raises SessionExpiredError as soon as
    ``session`` is lost (our keys are gone: stop waiting).

    The watch starts from "now", never in the past: etcd serves a watch that starts at or below
    its current revision from a catch-up loop that runs every ~100 ms, which would delay every
    hand-off while other contenders write. If the store moved past ``revision`` before the watch
    was created, the event may have come in between: True, and the caller reads again -- unless
    ``create_revision`` (of the single key awaited to be deleted) is given: then one read tells
    whether the key is still that one, and if so the watch goes on.
    """
    watcher = client.watch(
        key,
        prefix=prefix,
        filters=[WatchFilter.NODELETE if put else WatchFilter.NOPUT],
        timeout=time_left(deadline, _now()) or None,
    )

    def interrupt(lost: Session) -> None:
        # Wakes whichever the waiter is in: read() or start() (still waiting for etcd to
        # confirm the watch, e.g. on a member that was just paused).
        watcher._end(SessionExpiredError(f"session lease {lost.lease_id:#x} lost while waiting"))

    if session is not None:
        session.add_lost_callback(interrupt)
    try:
        with watcher:
            if session is not None and session.lost:
                raise SessionExpiredError("the session was lost while waiting")
            if watcher.next_revision > revision + 1:  # it starts after revision + 1
                if not create_revision:
                    return True
                timeout = time_left(deadline, _now())
                kv = (client.get(key, keys_only=True, timeout=timeout)).kv
                if kv is None or kv.create_revision != create_revision:
                    return True  # deleted meanwhile
            while True:
                try:
                    response = watcher.read(timeout=time_left(deadline, _now()))
                except EtcdTimeoutError:
                    return False
                if response.events:
                    return True
    finally:
        if session is not None:
            session.remove_lost_callback(interrupt)


def _read(response: TxnResponse, index: int) -> GetResponse:
    result = response.responses[index]
    assert isinstance(result, GetResponse)
    return result


def _now() -> float:
    return backend.monotonic()


def _passed(deadline: float | None) -> bool:
    return deadline is not None and _now() >= deadline
