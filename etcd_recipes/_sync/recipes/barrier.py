# GENERATED from etcd_recipes/_async/recipes/barrier.py by scripts/unasync.py -- do not edit.
"""Barriers (etcd's recipes ``Barrier`` and ``DoubleBarrier``).

``Barrier``: a gate. ``hold()`` creates the key ``<namespace><name>`` (``If(version == 0)
Then(put)``), ``release()`` deletes it, and ``wait()`` blocks while it exists: it reads the key and
watches its DELETE after the read's revision (``lock.wait_for_event``). By default the key is bound to no lease,
so the gate stays closed whoever dies (as in Go); with ``session=`` it is bound to that session's
lease and opens when the holder dies.

``DoubleBarrier``: ``count`` participants ``enter()`` (each returns once all have entered) and
``leave()`` (each returns once all have left). Keys, under ``<namespace><name>/``:

- ``waiters/<lease hex>``, one per participant, bound to its session's lease;
- ``ready``, put by the participant that sees ``count`` waiter keys, which wakes the others: each
  watches ``ready`` for a PUT from the revision after its own key was created.

Entering is one transaction: ``If(create_revision(myKey) == 0) Then(put(myKey), get(waiters/))
Else(get(myKey), get(waiters/), get(ready))``. Leaving follows the ZooKeeper recipe: the oldest
participant leaves last; it waits for the newest key's DELETE, everyone else deletes its key and
waits for the oldest key's DELETE, then looks again; the last one deletes ``ready``.

Error handling: a participant that dies is removed by its lease after ``ttl``: those waiting on
its key in ``leave()`` look again and go on, so nobody is stuck on a dead process. In ``enter()``
nobody can go on until ``count`` live participants have entered: bound it with ``timeout``
(a timed-out or cancelled ``enter()`` deletes its key). Waits survive connection loss (reads are
retried, watches resume from their revision). A lost session raises ``SessionExpiredError`` in
``enter()``; in ``leave()`` it only means our key is already gone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..._core.keys import KeyLike, to_bytes, to_key
from ..._core.locking import (
    BarrierFullError,
    BarrierTimeoutError,
    LeaveStep,
    contender_key,
    deadline_after,
    leave_step,
    lock_prefix,
    time_left,
)
from ..._core.ops import Compare, Op
from ..._exceptions import EtcdError, EtcdTimeoutError, InvalidArgumentError, RecipeError
from .. import _backend as backend
from .lock import _read, wait_for_event
from .session import Session

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Barrier", "DoubleBarrier"]

log = logging.getLogger("etcd_recipes.barrier")


class Barrier:
    """A gate that blocks waiters until it is released (``client.barrier(name)``)::

    gate = client.barrier("deploy")
    gate.hold()              # coordinator: close the gate
    ok = gate.wait(timeout=60)   # elsewhere: block until it opens
    gate.release()           # coordinator: open it
    """

    def __init__(
        self,
        client: Client,
        name: KeyLike,
        *,
        namespace: KeyLike = "",
        session: Session | None = None,
        timeout: float | None = None,
    ) -> None:
        deadline_after(timeout, 0.0)  # validates
        self.client = client
        self.key = to_bytes(namespace, "namespace") + to_key(name)
        self.session = session
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"

    def hold(self) -> bool:
        """Close the gate: create the barrier key. False if it already existed."""
        lease = 0
        if self.session is not None:
            lease = (self.session.start()).lease_id
        response = (
            self.client.txn()
            .if_(Compare.version(self.key) == 0)
            .then(Op.put(self.key, "", lease=lease))
            .commit()
        )
        return response.succeeded

    def release(self) -> bool:
        """Open the gate: delete the barrier key, waking every waiter. False if it was open."""
        return (self.client.delete(self.key)).deleted > 0

    def is_held(self) -> bool:
        """Whether the gate is closed (the barrier key exists)."""
        return (self.client.get(self.key, keys_only=True)).kv is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the gate is open (True at once if it is); False after ``timeout`` seconds
        (None: the constructor's ``timeout``)."""
        deadline = deadline_after(self.timeout if timeout is None else timeout, _now())
        try:
            while True:
                response = self.client.get(
                    self.key, keys_only=True, timeout=time_left(deadline, _now())
                )
                if response.kv is None:
                    return True
                if not wait_for_event(self.client, self.key, response.header.revision, deadline):
                    return False
        except EtcdTimeoutError:
            if _passed(deadline):
                return False
            raise


class DoubleBarrier:
    """``count`` participants enter together and leave together
    (``client.double_barrier(name, count)``); one object is one participant::

        with client.double_barrier("epoch-7", 5, timeout=30):
            ...   # all 5 are here
        # all 5 have left

    ``enter(timeout=None)`` / ``leave(timeout=None)`` return False when ``timeout`` seconds
    passed (None: the constructor's ``timeout``); ``with`` raises BarrierTimeoutError.
    Options: ``ttl`` of the participant's own session (granted on ``enter``, revoked after
    ``leave``), or a shared ``session``; ``namespace`` prefixed to every key.
    """

    def __init__(
        self,
        client: Client,
        name: KeyLike,
        count: int,
        *,
        ttl: int = 60,
        session: Session | None = None,
        namespace: KeyLike = "",
        timeout: float | None = None,
    ) -> None:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InvalidArgumentError(f"count must be an int >= 1, not {count!r}")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise InvalidArgumentError(f"ttl must be a positive number of seconds, not {ttl!r}")
        deadline_after(timeout, 0.0)  # validates
        self.client = client
        self.count = count
        self.prefix = lock_prefix(namespace, name)
        self.ttl = ttl
        self.timeout = timeout
        self._waiters = self.prefix + b"waiters/"
        self._ready = self.prefix + b"ready"
        self._shared_session = session
        self._session: Session | None = None
        self._key: bytes | None = None

    def __repr__(self) -> str:
        state = "entered" if self._key is not None else "out"
        return f"<{type(self).__name__} {self.prefix!r} count={self.count} {state}>"

    @property
    def key(self) -> bytes | None:
        """Our waiter key, between ``enter()`` and ``leave()``."""
        return self._key

    def enter(self, timeout: float | None = None) -> bool:
        """Join and wait until ``count`` participants have joined: True then, False after
        ``timeout`` (our key is deleted). Raises BarrierFullError if ``count`` are already in."""
        if self._session is not None:
            raise RecipeError(f"{self!r} has already entered")
        deadline = deadline_after(self.timeout if timeout is None else timeout, _now())
        try:
            session = self._session = self._shared_session or Session(self.client, self.ttl)
            session.start()
            key = contender_key(self._waiters, session.lease_id)
            session._claim(key)
            self._key = key
            if not self._enter(session, key, deadline):
                self._quit()
                return False
        except BaseException as error:
            self._quit()
            if isinstance(error, EtcdTimeoutError) and _passed(deadline):
                return False
            raise
        return True

    def _enter(self, session: Session, key: bytes, deadline: float | None) -> bool:
        waiters = Op.get(self._waiters, prefix=True, keys_only=True)
        response = (
            self.client.txn(timeout=time_left(deadline, _now()))
            .if_(Compare.create_revision(key) == 0)
            .then(Op.put(key, "", lease=session.lease_id), waiters)
            .else_(Op.get(key), waiters, Op.get(self._ready, keys_only=True))
            .commit()
        )
        entered = len(_read(response, 1).kvs)
        mine = response.header.revision  # our key's create revision
        if not response.succeeded:  # entered before (an earlier attempt on this session)
            kv, ready = _read(response, 0).kv, _read(response, 2).kv
            assert kv is not None
            mine = kv.create_revision
            if ready is not None and ready.mod_revision > mine:
                return True
        if entered > self.count:
            raise BarrierFullError(f"{self!r}: {self.count} participants have entered already")
        if entered == self.count:
            self.client.put(self._ready, "", lease=session.lease_id)
            return True
        revision = response.header.revision
        while wait_for_event(
            self.client, self._ready, revision, deadline, put=True, session=session
        ):
            ready_read = self.client.get(self._ready, timeout=time_left(deadline, _now()))
            if ready_read.kv is not None and ready_read.kv.mod_revision > mine:
                return True  # put after we entered: this round is complete
            revision = ready_read.header.revision
        return False

    def leave(self, timeout: float | None = None) -> bool:
        """Leave and wait until every participant has left: True then, False after ``timeout``
        (None: the constructor's ``timeout``)."""
        key = self._key
        if key is None:
            raise RecipeError(f"{self!r} has not entered")
        deadline = deadline_after(self.timeout if timeout is None else timeout, _now())
        try:
            while True:
                response = self.client.get(
                    self._waiters, prefix=True, keys_only=True, timeout=time_left(deadline, _now())
                )
                step, target = leave_step(response.kvs, key)
                if step is LeaveStep.DONE:
                    return True
                if step is LeaveStep.FINISH:
                    self.client.txn().then(Op.delete(self._ready), Op.delete(key)).commit()
                    return True
                if step is LeaveStep.WAIT_LOWEST and any(kv.key == key for kv in response.kvs):
                    self.client.delete(key)
                assert target is not None
                woken = wait_for_event(self.client, target.key, response.header.revision, deadline)
                if not woken:
                    return False
        except EtcdTimeoutError:
            if _passed(deadline):
                return False
            raise
        finally:
            self._quit()

    def _quit(self) -> None:
        """Drop our key and session (revoking the participant's own session); best effort."""
        session, key = self._session, self._key
        self._session = self._key = None
        if session is None:
            return
        if key is not None:
            session._unclaim(key)
        try:
            if session is not self._shared_session:
                session.close()
            elif key is not None:
                self.client.delete(key)
        except EtcdError as error:
            log.warning("%r: could not delete %r (%s); it goes with the lease", self, key, error)

    def __enter__(self) -> DoubleBarrier:
        if not self.enter():
            raise BarrierTimeoutError(f"{self!r}: not all entered within {self.timeout}s")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.leave() and exc_type is None:
            raise BarrierTimeoutError(f"{self!r}: not all left within {self.timeout}s")


def _now() -> float:
    return backend.monotonic()


def _passed(deadline: float | None) -> bool:
    return deadline is not None and _now() >= deadline
