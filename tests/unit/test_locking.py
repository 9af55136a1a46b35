"""The lock family's pure helpers: key naming (Go's), deadlines, the double barrier's steps."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    EtcdTimeoutError,
    InvalidArgumentError,
    KeyValue,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    RecipeError,
    SessionExpiredError,
)
from etcd_recipes._core.locking import (
    LeaveStep,
    contender_key,
    deadline_after,
    leave_step,
    lock_prefix,
    time_left,
)


def test_keys_are_gos() -> None:
    # Go: NewMutex(s, "orders") -> pfx "orders/"; key fmt.Sprintf("%s%x", pfx, leaseID).
    assert lock_prefix("", "orders") == b"orders/"
    assert lock_prefix("/app/", b"orders") == b"/app/orders/"
    assert contender_key(b"orders/", 0x694D77AA9E38260F) == b"orders/694d77aa9e38260f"
    assert contender_key(b"orders/", 10) == b"orders/a"
    with pytest.raises(InvalidArgumentError):
        lock_prefix("", "")


def test_deadlines() -> None:
    assert deadline_after(None, 100.0) is None and time_left(None, 5.0) is None
    assert deadline_after(2, 100.0) == 102.0 and deadline_after(0, 1.0) == 1.0
    assert time_left(102.0, 101.5) == 0.5 and time_left(102.0, 103.0) == 0.0
    for bad in (-1, "1", True):
        with pytest.raises(InvalidArgumentError):
            deadline_after(bad, 0.0)  # type: ignore[arg-type]


def test_error_family() -> None:
    assert issubclass(LockLostError, LockNotHeldError)
    assert issubclass(LockLostError, SessionExpiredError)
    assert issubclass(LockTimeoutError, EtcdTimeoutError) and issubclass(
        LockTimeoutError, TimeoutError
    )
    for error in (SessionExpiredError, LockNotHeldError, LockTimeoutError):
        assert issubclass(error, RecipeError)


def _kv(key: str, rev: int) -> KeyValue:
    return KeyValue(key.encode(), b"", rev, rev, 1, 7)


def test_leave_steps() -> None:
    a, b, c = _kv("w/a", 5), _kv("w/b", 9), _kv("w/c", 7)
    assert leave_step([], b"w/a") == (LeaveStep.DONE, None)
    assert leave_step([a], b"w/a") == (LeaveStep.FINISH, None)
    assert leave_step([b, a, c], b"w/a") == (LeaveStep.WAIT_HIGHEST, b)  # oldest waits for newest
    assert leave_step([b, a, c], b"w/c") == (LeaveStep.WAIT_LOWEST, a)  # others wait for oldest
    assert leave_step([a, b], b"w/x") == (LeaveStep.WAIT_LOWEST, a)  # our key is already gone
