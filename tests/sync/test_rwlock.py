# GENERATED from tests/async_/test_rwlock.py by scripts/unasync.py -- do not edit.
"""Read-write lock: readers share, writers exclude, writers are not starved by readers."""

from __future__ import annotations

import pytest

from etcd_recipes import Client, LockTimeoutError, RWLock

from .helpers import Outcome, wait_count


def test_readers_share_writers_wait(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    name = etcd_key_prefix + "catalog"
    rw = c.rwlock(name)
    assert isinstance(rw, RWLock)
    first, second = rw.read(), rw.read()
    assert first.acquire(blocking=False) and second.acquire(blocking=False)
    assert first.key is not None and first.key.startswith(f"{name}/read/".encode())
    writer = rw.write()
    assert not writer.acquire(blocking=False)
    pending = Outcome(writer.acquire, True, 10)
    wait_count(c, name + "/", 3)
    first.release()
    assert not pending.done.is_set()  # one reader still holds it
    second.release()
    assert pending.wait() is True
    assert writer.key is not None and writer.key.startswith(f"{name}/write/".encode())
    with pytest.raises(LockTimeoutError):
        with rw.read(timeout=0.1):
            pass
    with pytest.raises(LockTimeoutError):
        with rw.write(timeout=0.1):
            pass
    writer.release()
    assert (c.get(name + "/", prefix=True)).kvs == ()


def test_writer_is_not_starved_by_later_readers(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    name = etcd_key_prefix + "rw"
    rw = c.rwlock(name, timeout=10)
    reader = rw.read()
    assert reader.acquire()
    writer = rw.write()
    waiting_writer = Outcome(writer.acquire)
    wait_count(c, name + "/", 2)
    late_reader = rw.read()
    assert not late_reader.acquire(timeout=0.2)  # queued behind the waiting writer
    waiting_reader = Outcome(late_reader.acquire)
    wait_count(c, name + "/", 3)
    reader.release()
    assert waiting_writer.wait() is True
    assert not waiting_reader.done.is_set()
    writer.release()
    assert waiting_reader.wait() is True
    late_reader.release()


def test_writers_exclude_each_other(etcd_client: Client, etcd_key_prefix: str) -> None:
    rw = etcd_client.rwlock(etcd_key_prefix + "w")
    with rw.write() as first:
        token = first.fencing_token
        assert not rw.write().acquire(timeout=0.1)
        assert not rw.read().acquire(blocking=False)
    with rw.write() as second:
        assert second.fencing_token > token
