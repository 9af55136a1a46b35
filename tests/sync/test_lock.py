# GENERATED from tests/async_/test_lock.py by scripts/unasync.py -- do not edit.
"""Lock: Go-compatible keys, fencing, guard, FIFO hand-off, timeouts, cancellation, session loss,
and interop with ``etcdctl lock`` in both directions."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from etcd_recipes import (
    Client,
    Compare,
    EtcdError,
    EventType,
    Lock,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    Op,
    RecipeError,
    SessionExpiredError,
)
from etcd_recipes.testing import EtcdServer

from .helpers import Outcome, wait_count


def test_keys_tokens_and_release_like_go(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    name = etcd_key_prefix + "orders"
    lock = c.lock(name, ttl=30, identifier="worker-1")
    assert isinstance(lock, Lock) and not lock.held and not lock.locked()
    assert lock.acquire()
    session = lock.session
    assert session is not None and lock.key == f"{name}/{session.lease_id:x}".encode()
    kv = (c.get(lock.key)).kv
    assert kv is not None and kv.value == b"worker-1" and kv.lease == session.lease_id
    assert lock.fencing_token == kv.create_revision and lock.held and lock.is_held()
    assert lock.locked() and lock.holder() == kv
    lock.release()
    assert (c.get(name + "/", prefix=True)).kvs == ()
    assert (c.lease.time_to_live(session.lease_id)).expired  # its own session is revoked
    assert not lock.held and not lock.is_held() and lock.holder() is None
    with pytest.raises(LockNotHeldError):
        lock.release()
    with pytest.raises(LockNotHeldError):
        lock.fencing_token  # noqa: B018
    with pytest.raises(LockNotHeldError):
        lock.guard()


def test_context_manager_is_not_reentrant(etcd_client: Client, etcd_key_prefix: str) -> None:
    lock = etcd_client.lock(etcd_key_prefix + "m")
    with lock as held:
        assert held is lock and lock.held
        with pytest.raises(RecipeError, match="not reentrant"):
            lock.acquire(blocking=False)
        assert lock.held  # the failed re-entry changed nothing
    assert not lock.held
    with lock:  # the object can be used again
        pass


def test_guard_writes_only_while_held(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    data = etcd_key_prefix + "data"
    with c.session(30) as session:
        lock = c.lock(etcd_key_prefix + "m", session=session)
        assert lock.acquire()
        written = lock.guard().then(Op.put(data, "1")).commit()
        assert written.succeeded
        same = c.txn().if_(lock.is_owner()).then(Op.put(data, "2")).commit()
        assert same.succeeded
        other = Compare.value(data) == "nope"
        assert not (lock.guard(other).then(Op.put(data, "3")).commit()).succeeded
        assert lock.key is not None
        c.delete(lock.key)  # as if the lease had expired
        assert not (lock.guard().then(Op.put(data, "4")).commit()).succeeded
        assert not lock.is_held()
        with pytest.raises(LockLostError):
            lock.release()  # the release finds the key gone: it does not pretend
        assert (c.get(data)).value == b"2"


def test_waiters_are_served_in_order_with_growing_tokens(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "fifo"
    first, second, third = (c.lock(name) for _ in range(3))
    assert first.acquire()
    token = first.fencing_token
    waiting_second = Outcome(second.acquire, True, 10)
    wait_count(c, name + "/", 2)
    waiting_third = Outcome(third.acquire, True, 10)
    wait_count(c, name + "/", 3)
    assert not waiting_second.done.is_set() and not waiting_third.done.is_set()
    first.release()
    assert waiting_second.wait() is True
    assert not waiting_third.done.is_set()  # only the predecessor's release wakes a waiter
    assert second.fencing_token > token
    token = second.fencing_token
    second.release()
    assert waiting_third.wait() is True
    assert third.fencing_token > token
    third.release()


def test_timeout_and_blocking_false_are_prompt_and_leave_nothing(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "busy"
    holder = c.lock(name)
    assert holder.acquire()
    leases = set(c.lease.leases())
    other = c.lock(name, timeout=0.3)
    started = time.monotonic()
    assert other.acquire(blocking=False) is False
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    assert other.acquire() is False  # the constructor's timeout
    assert 0.3 <= time.monotonic() - started < 1.0
    started = time.monotonic()
    assert other.acquire(timeout=0.1) is False
    assert 0.1 <= time.monotonic() - started < 0.6
    started = time.monotonic()
    assert other.acquire(timeout=0) is False  # one try, no wait
    assert time.monotonic() - started < 0.5
    with pytest.raises(LockTimeoutError):
        with c.lock(name, timeout=0.1):
            pass
    assert [kv.key for kv in (c.get(name + "/", prefix=True)).kvs] == [holder.key]
    assert set(c.lease.leases()) <= leases  # every attempt's session was revoked
    holder.release()
    assert other.acquire(timeout=0)  # free: taken at once
    other.release()


def test_session_lost_while_holding_is_reported(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    lost: list[Lock] = []
    lock = c.lock(etcd_key_prefix + "m", ttl=2, on_lost=lost.append)  # refreshed every 0.7 s
    assert lock.acquire()
    session = lock.session
    assert session is not None
    c.lease.revoke(session.lease_id)  # as if it expired
    assert session.wait_lost(timeout=5)
    assert lock.lost and not lock.held and lost == [lock]
    with pytest.raises(LockLostError):
        lock.release()
    with pytest.raises(LockNotHeldError):
        lock.release()
    with pytest.raises(LockLostError):
        with lock:
            c.lease.revoke(lock.session.lease_id)  # type: ignore[union-attr]
            assert lock.session is not None and lock.session.wait_lost(timeout=5)


def test_waiter_whose_session_dies_never_acquires(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "m"
    holder, waiter = c.lock(name), c.lock(name, ttl=2)  # refreshed (and checked) every 0.7 s
    assert holder.acquire()
    pending = Outcome(waiter.acquire, True, 10)
    wait_count(c, name + "/", 2)
    assert waiter.session is not None
    c.lease.revoke(waiter.session.lease_id)
    with pytest.raises(SessionExpiredError):
        pending.wait()  # at once, not when the holder releases
    assert holder.held and holder.is_held()
    holder.release()


# ---------------------------------------------------------------------- etcdctl (Go) interop


def _etcdctl(server: EtcdServer, *args: str) -> subprocess.Popen[str]:
    etcdctl = server.binary.etcdctl
    if etcdctl is None:
        pytest.skip("no etcdctl next to the etcd binary")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    argv = [str(etcdctl), f"--endpoints={server.endpoint}", *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env | {"ETCDCTL_API": "3"})


def test_etcdctl_lock_waits_for_python(
    etcd_client: Client, etcd_server: EtcdServer, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "shared"
    lock = c.lock(name)
    assert lock.acquire()
    token = lock.fencing_token
    proc = _etcdctl(etcd_server, "lock", name, "--", "sh", "-c", 'echo "got $ETCD_LOCK_REV"')
    try:
        wait_count(c, name + "/", 2)  # etcdctl queued behind us ...
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(0.3)  # ... and waits
        lock.release()
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 0
    assert int(out.split()[-1]) > token  # the revision at which etcdctl got the lock
    assert (c.get(name + "/", prefix=True)).kvs == ()


def test_python_waits_for_etcdctl_lock(
    etcd_client: Client, etcd_server: EtcdServer, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "shared"
    proc = _etcdctl(etcd_server, "lock", name)  # holds until SIGINT
    try:
        wait_count(c, name + "/", 1)
        theirs = (c.get(name + "/", prefix=True)).kvs[0]
        lock = c.lock(name)
        assert not lock.acquire(blocking=False)
        pending = Outcome(lock.acquire, True, 10)
        wait_count(c, name + "/", 2)
        assert not pending.done.is_set()
        proc.send_signal(signal.SIGINT)  # etcdctl unlocks
        assert pending.wait(10) is True
        assert lock.fencing_token > theirs.create_revision
        proc.wait(10)
    finally:
        proc.kill()
        proc.communicate()
    with c.watch(name + "/", prefix=True) as watcher:
        lock.release()
        assert [e.type for e in watcher.events(5)] == [EventType.DELETE]


def test_bad_arguments(etcd_client: Client) -> None:
    c = etcd_client
    for bad in ({"ttl": 0}, {"timeout": -1}, {"ttl": 1.5}):
        with pytest.raises(EtcdError):
            c.lock("m", **bad)
    with pytest.raises(EtcdError):
        c.lock("")
