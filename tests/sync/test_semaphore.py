# GENERATED from tests/async_/test_semaphore.py by scripts/unasync.py -- do not edit.
"""Semaphore: at most ``limit`` holders, admitted in arrival order."""

from __future__ import annotations

import pytest

from etcd_recipes import Client, EtcdError, LockTimeoutError, Semaphore

from .helpers import Outcome, wait_count


def test_at_most_limit_holders_in_arrival_order(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    name = etcd_key_prefix + "slots"
    first, second = c.semaphore(name, 2), c.semaphore(name, 2)
    assert isinstance(first, Semaphore)
    assert first.acquire(blocking=False) and second.acquire(blocking=False)
    assert [kv.key for kv in first.holders()] == [first.key, second.key]
    assert not c.semaphore(name, 2).acquire(timeout=0.1)
    third, fourth = c.semaphore(name, 2), c.semaphore(name, 2)
    waiting_third = Outcome(third.acquire, True, 10)
    wait_count(c, name + "/", 3)
    waiting_fourth = Outcome(fourth.acquire, True, 10)
    wait_count(c, name + "/", 4)
    second.release()  # a slot: the oldest waiter gets it, not the newest
    assert waiting_third.wait() is True
    assert not waiting_fourth.done.is_set()
    first.release()
    assert waiting_fourth.wait() is True
    assert [kv.key for kv in third.holders()] == [third.key, fourth.key]
    with pytest.raises(LockTimeoutError):
        with c.semaphore(name, 2, timeout=0.1):
            pass
    third.release()
    fourth.release()
    assert (c.get(name + "/", prefix=True)).kvs == ()


def test_limit_must_be_positive(etcd_client: Client) -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(EtcdError):
            etcd_client.semaphore("s", bad)  # type: ignore[arg-type]
