"""The lock family, the pure part: key naming, deadlines, the double barrier's decisions, and the
errors of sessions, locks, semaphores and barriers.

The errors live here (not in the recipe modules) because ``etcd_recipes/_sync`` is generated from
``etcd_recipes/_async``: a class defined in a recipe module would exist twice, once per flavour.
The recipe modules re-export them.

Keys are Go's (``concurrency.NewMutex``): contenders of lock ``name`` live under ``name + "/"``
and each one's key is ``name + "/" + <lease id in lower-case hex>`` (``fmt.Sprintf("%s%x", pfx,
leaseID)``), so ``etcdctl lock name`` and Go services exclude Python processes and vice versa.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from .._exceptions import EtcdTimeoutError, InvalidArgumentError, RecipeError
from .keys import KeyLike, to_bytes
from .types import KeyValue

__all__ = [
    "BarrierFullError",
    "BarrierTimeoutError",
    "LeaveStep",
    "LockLostError",
    "LockNotHeldError",
    "LockTimeoutError",
    "SessionExpiredError",
    "contender_key",
    "deadline_after",
    "leave_step",
    "lock_prefix",
    "time_left",
]


class SessionExpiredError(RecipeError):
    """The session's lease is gone (expired, revoked, or not refreshed within its TTL): every key
    bound to it was deleted, so whatever a recipe held or waited for on it is void."""


class LockNotHeldError(RecipeError):
    """``release()`` (or ``fencing_token``, ``is_owner()``) on a lock this object does not hold."""


class LockLostError(LockNotHeldError, SessionExpiredError):
    """The lock was held, but its session expired meanwhile: the critical section may have
    overlapped with the next holder's. Raised by ``release()`` and on leaving ``with``."""


class LockTimeoutError(RecipeError, EtcdTimeoutError):
    """Entering ``with lock:`` (or a semaphore, rwlock side) did not acquire within its timeout."""


class BarrierTimeoutError(RecipeError, EtcdTimeoutError):
    """Entering or leaving ``with double_barrier:`` did not complete within its timeout."""


class BarrierFullError(RecipeError):
    """A double barrier already has ``count`` participants."""


def lock_prefix(namespace: KeyLike, name: KeyLike) -> bytes:
    """Where the contenders of lock ``name`` keep their keys: ``namespace + name + "/"`` (Go's
    ``NewMutex(s, name)`` prefix when ``namespace`` is empty)."""
    raw = to_bytes(name, "lock name")
    if not raw:
        raise InvalidArgumentError("a lock name must not be empty")
    return to_bytes(namespace, "namespace") + raw + b"/"


def contender_key(prefix: bytes, lease_id: int) -> bytes:
    """The contender key of the session on lease ``lease_id``: ``prefix + "%x" % lease_id``."""
    return prefix + f"{lease_id:x}".encode()


def deadline_after(timeout: float | None, now: float) -> float | None:
    """The monotonic deadline ``timeout`` seconds after ``now`` (None: wait forever)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise InvalidArgumentError(f"timeout must be None or a number >= 0, not {timeout!r}")
    return now + timeout


def time_left(deadline: float | None, now: float) -> float | None:
    """Seconds until ``deadline`` (never negative), or None when there is none."""
    return None if deadline is None else max(deadline - now, 0.0)


class LeaveStep(enum.Enum):
    """What a participant leaving a double barrier does next (etcd's recipe, from ZooKeeper)."""

    DONE = "done"
    """No participant is left: everyone has left."""
    FINISH = "finish"
    """We are the last one: delete the ready key and our key."""
    WAIT_HIGHEST = "wait highest"
    """We are the oldest: wait for the newest participant's key to go, then look again."""
    WAIT_LOWEST = "wait lowest"
    """Delete our key (if still there), wait for the oldest participant's key to go, look again."""


def leave_step(waiters: Sequence[KeyValue], my_key: bytes) -> tuple[LeaveStep, KeyValue | None]:
    """The next step of ``leave()`` given the participants' keys, and the key to wait on.

    The oldest participant leaves last and everyone else waits for it, so leaving is one delete
    per participant; a participant that dies is noticed through its lease: its key disappears,
    and whoever waits on it looks again.
    """
    if not waiters:
        return LeaveStep.DONE, None
    lowest = min(waiters, key=lambda kv: kv.create_revision)
    if lowest.key != my_key:
        return LeaveStep.WAIT_LOWEST, lowest
    if len(waiters) == 1:
        return LeaveStep.FINISH, None
    return LeaveStep.WAIT_HIGHEST, max(waiters, key=lambda kv: kv.create_revision)
