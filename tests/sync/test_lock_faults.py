# GENERATED from tests/async_/test_lock_faults.py by scripts/unasync.py -- do not edit.
"""Mutual exclusion of ``client.lock`` across processes on a 3-member cluster, with faults.

- 8 processes, 200 acquisitions: intervals never overlap, fencing tokens increase.
- A counter written under the lock while holders, their members and the leader are paused and
  members killed: with the guard (``lock.guard()``) every accepted write has a token >= the
  previous one and no update is lost; without it (the control, in the same test) a holder paused
  past its TTL must cause a lost update, or the test fails as unable to detect anything.
- A holder paused past its TTL loses the lock and cannot write when resumed; a waiter paused past
  its TTL never reports the lock as acquired.

The worker processes' code is at the end of this file (``worker_main``), so that it exists in
both flavours; ``tests/workers/lock_worker.py`` runs it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from etcd_recipes import (
    Client,
    EtcdError,
    EventType,
    KeyValue,
    Lock,
    LockLostError,
    Op,
    SessionExpiredError,
    SortOrder,
    SortTarget,
)
from etcd_recipes._sync import _backend as backend
from etcd_recipes.testing import EtcdCluster

pytestmark = pytest.mark.cluster

FLAVOUR = "sync"  # "sync" in the generated twin: the workers run the same flavour as the test
WORKER = Path(__file__).resolve().parents[1] / "workers" / "lock_worker.py"
TTL = 1  # seconds; etcd grants it with the cluster's 50 ms heartbeat


# ---------------------------------------------------------------------- worker processes


class Workers:
    """Lock worker processes; each prints JSON lines, collected when it exits."""

    def __init__(self, cluster: EtcdCluster) -> None:
        self.cluster = cluster
        self.procs: list[subprocess.Popen[str]] = []
        self.homes: dict[int, int] = {}  # pid -> index of the member it talks to first

    def start(self, mode: str, **config: Any) -> subprocess.Popen[str]:
        home = len(self.procs) % len(self.cluster.endpoints)
        # Each worker talks to its home member first (the one paused as "the holder's member").
        endpoints = self.cluster.endpoints[home:] + self.cluster.endpoints[:home]
        argv = [
            sys.executable,
            str(WORKER),
            FLAVOUR,
            mode,
            json.dumps(config | {"endpoints": endpoints}),
        ]
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_child_env()
        )
        self.procs.append(proc)
        self.homes[proc.pid] = home
        return proc

    def finish(self, timeout: float = 20) -> list[dict[str, Any]]:
        """Tell every worker to stop (close its stdin) and return each one's last JSON line."""
        for proc in self.procs:
            _resume(proc.pid)
            if proc.stdin is not None:
                proc.stdin.close()
                proc.stdin = None  # closed: communicate() must not flush it
        results = []
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            assert proc.returncode == 0 and lines, f"worker {proc.pid} failed: {out}"
            results.append(lines[-1])
        return results

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                _resume(proc.pid)
                proc.kill()
                proc.wait(5)


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}


def _resume(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------- helpers (bounded waits)


def _first(client: Client, prefix: str) -> tuple[KeyValue | None, int]:
    """The oldest key under ``prefix`` (the holder) and the read's revision."""
    response = client.get(
        prefix, prefix=True, sort_target=SortTarget.CREATE, sort_order=SortOrder.ASCEND, limit=1
    )
    return response.kv, response.header.revision


def _wait_keys(client: Client, prefix: str, count: int, timeout: float = 10) -> None:
    """Wait until at least ``count`` keys exist under ``prefix``."""
    deadline = time.monotonic() + timeout
    response = client.get(prefix, prefix=True, count_only=True)
    with client.watch(prefix, prefix=True, start_revision=response.header.revision + 1) as w:
        while (client.get(prefix, prefix=True, count_only=True)).count < count:
            w.read(max(deadline - time.monotonic(), 0.01))


def _wait_deleted(client: Client, key: bytes, timeout: float) -> None:
    """Wait until ``key`` no longer exists."""
    response = client.get(key)
    if response.kv is None:
        return
    deadline = time.monotonic() + timeout
    with client.watch(key, start_revision=response.header.revision + 1) as w:
        while True:
            events = w.events(max(deadline - time.monotonic(), 0.01))
            if any(e.type is EventType.DELETE for e in events):
                return


def _wait_writes(client: Client, key: str, count: int, timeout: float = 10) -> None:
    """Wait until ``count`` more writes of ``key`` happen."""
    deadline = time.monotonic() + timeout
    start = (client.get(key)).header.revision + 1
    seen = 0
    with client.watch(key, start_revision=start) as w:
        while seen < count:
            seen += len(w.events(max(deadline - time.monotonic(), 0.01)))


def _history(client: Client, key: str) -> list[tuple[int, int]]:
    """Every accepted write of the counter, in order: (value, fencing token)."""
    last = (client.get(key)).kv
    if last is None:
        return []
    writes: list[KeyValue] = []
    with client.watch(key, start_revision=last.create_revision) as w:
        while not writes or writes[-1].mod_revision < last.mod_revision:
            writes += [e.kv for e in w.events(5) if e.type is EventType.PUT]
    return [(int(kv.value.split()[0]), int(kv.value.split()[1])) for kv in writes]


def _lost_updates(history: list[tuple[int, int]]) -> int:
    """Writes that did not add one to the value before them (an overwritten increment)."""
    return sum(1 for (a, _), (b, _) in itertools.pairwise(history) if b != a + 1)


# ---------------------------------------------------------------------- the tests


def test_eight_processes_exclude_each_other(etcd_cluster: EtcdCluster) -> None:
    with Workers(etcd_cluster) as workers:
        for _ in range(8):  # one session each, reused: 25 acquisitions per process
            workers.start("loop", name="/t/lock8", counter=None, iterations=25, session=5)
        results = workers.finish(timeout=60)
    records = sorted(r for result in results for r in result["records"])  # by acquisition time
    assert len(records) == 200
    for (_, released, token, _), (acquired, _, next_token, _) in itertools.pairwise(records):
        assert released <= acquired, "two processes held the lock at once"
        assert token < next_token, "fencing tokens must increase from holder to holder"


def test_guarded_counter_survives_faults_and_control_loses_updates(
    etcd_cluster: EtcdCluster,
) -> None:
    """Two groups of three workers increment a counter each, at the same time and through the
    same faults: the guarded group through ``lock.guard()``, the control with a plain put."""
    groups = {"guarded": Group("/t/guarded/", guard=True), "control": Group("/t/ctl/", guard=False)}
    clients = [Client([endpoint]) for endpoint in etcd_cluster.endpoints]
    try:
        with Workers(etcd_cluster) as workers:
            for group in groups.values():
                group.start(workers, 3)
            for group in groups.values():
                _wait_writes(clients[0], group.counter, 3)
            for fault in ["holder", "holder_member", "leader", "kill"]:
                started = time.monotonic()
                _inject(fault, etcd_cluster, clients, workers, groups)
                print(f"{fault}: healed after {time.monotonic() - started:.2f}s")
            control = {"control": groups["control"]}
            for _ in range(3):  # the holder may have been paused after its write: pause again
                if _lost_updates(_history(clients[0], groups["control"].counter)):
                    break
                _inject("holder", etcd_cluster, clients, workers, control)
            stats = [result["stats"] for result in workers.finish()]
        etcd_cluster.heal()
        guarded = _history(clients[0], groups["guarded"].counter)
        unguarded = _history(clients[0], groups["control"].counter)
    finally:
        for client in clients:
            client.close()
        etcd_cluster.heal()
    print(f"guarded: {len(guarded)} writes, control: {len(unguarded)} writes, workers: {stats}")
    assert _lost_updates(unguarded) > 0, "the control lost no update: this test cannot detect any"
    assert _lost_updates(guarded) == 0
    assert [value for value, _ in guarded] == list(range(1, len(guarded) + 1))
    tokens = [token for _, token in guarded]
    assert tokens == sorted(tokens), "a write with an older fencing token was accepted"


class Group:
    """Workers contending for one lock to increment one counter."""

    def __init__(self, prefix: str, *, guard: bool) -> None:
        self.prefix, self.guard = prefix + "mutex/", guard
        self.counter = prefix + "counter"

    def start(self, workers: Workers, count: int) -> None:
        for _ in range(count):
            workers.start(
                "loop",
                name=self.prefix[:-1],
                counter=self.counter,
                iterations=0,
                hold=0.03,
                guard=self.guard,
            )


def _inject(
    fault: str,
    cluster: EtcdCluster,
    clients: list[Client],
    workers: Workers,
    groups: dict[str, Group],
) -> None:
    """One fault, until every group makes progress without the faulty part; then heal it."""
    members = cluster.members
    if fault == "holder":  # SIGSTOP each group's holder process past its TTL
        paused = [_pause_holder(clients[0], group.prefix) for group in groups.values()]
        for _, key in paused:
            _wait_deleted(clients[0], key, TTL + 5)
        for group in groups.values():
            _wait_writes(clients[0], group.counter, 2)
        for pid, _ in paused:
            _resume(pid)
        observer = clients[0]
    else:
        if fault == "holder_member":  # SIGSTOP the member the guarded holder talks to
            index, key = _pause_holder_member(cluster, clients, workers, groups["guarded"])
            _wait_deleted(clients[(index + 1) % 3], key, TTL + 5)
        elif fault == "leader":
            index = members.index(cluster.leader())
            cluster.pause(index)
        else:  # SIGKILL a follower
            index = next(i for i, m in enumerate(members) if m is not cluster.leader())
            cluster.kill(index)
        observer = clients[(index + 1) % 3]
        for group in groups.values():
            _wait_writes(observer, group.counter, 2)
        if fault == "kill":
            cluster.restart(index, wait=False)
        else:
            cluster.resume(index)
        cluster.wait_ready(10)
    for group in groups.values():  # healed: the resumed workers' writes land
        _wait_writes(observer, group.counter, 2)


def _pause_holder(client: Client, prefix: str) -> tuple[int, bytes]:
    """SIGSTOP the process that holds the lock, checked after the signal: (pid, its key)."""
    for _ in range(100):
        holder, _ = _first(client, prefix)
        if holder is None:
            continue
        pid = int(holder.value)
        os.kill(pid, signal.SIGSTOP)
        again, _ = _first(client, prefix)
        if again is not None and (again.key, again.create_revision) == (
            holder.key,
            holder.create_revision,
        ):
            return pid, holder.key
        _resume(pid)  # it released just before the signal: try again
    raise AssertionError("could not pause a holder")


def _pause_holder_member(
    cluster: EtcdCluster, clients: list[Client], workers: Workers, group: Group
) -> tuple[int, bytes]:
    """SIGSTOP the member the holder talks to, checked after the signal: (member, holder key)."""
    for _ in range(100):
        holder, _ = _first(clients[0], group.prefix)
        if holder is None:
            continue
        index = workers.homes[int(holder.value)]
        cluster.pause(index)
        again, _ = _first(clients[(index + 1) % 3], group.prefix)
        if again is not None and (again.key, again.create_revision) == (
            holder.key,
            holder.create_revision,
        ):
            return index, holder.key
        cluster.resume(index)
    raise AssertionError("could not pause the holder's member")


def test_paused_holder_loses_lock_and_paused_waiter_never_acquires(
    etcd_cluster: EtcdCluster,
) -> None:
    held, waited, counter = "/t/paused/held", "/t/paused/waited", "/t/paused/counter"
    with Client(etcd_cluster.endpoints) as client:
        gate = client.lock(waited)
        assert gate.acquire(timeout=5)
        with Workers(etcd_cluster) as workers:
            holder = workers.start("hold", name=held, counter=counter, go="/t/paused/go")
            waiter = workers.start("wait", name=waited)
            _wait_keys(client, held + "/", 1)
            _wait_keys(client, waited + "/", 2)
            old, _ = _first(client, held + "/")
            contenders = (client.get(waited + "/", prefix=True)).kvs
            waiter_key = next(kv.key for kv in contenders if kv.key != gate.key)
            assert old is not None
            os.kill(holder.pid, signal.SIGSTOP)
            os.kill(waiter.pid, signal.SIGSTOP)
            _wait_deleted(client, old.key, TTL + 5)
            _wait_deleted(client, waiter_key, TTL + 5)

            # Someone else takes the held lock; the waiter's predecessor goes away.
            with client.lock(held, timeout=5) as lock:
                assert lock.fencing_token > old.create_revision
                assert (lock.guard().then(Op.put(counter, "new")).commit()).succeeded
                gate.release()
                _resume(waiter.pid)
                _resume(holder.pid)
                client.put("/t/paused/go", "")
                results = workers.finish()
    assert results[0] == {**results[0], "ev": "done", "write_ok": False, "release": "LockLostError"}
    assert results[1]["acquired"] is False and results[1]["error"] == "SessionExpiredError"
    with Client(etcd_cluster.endpoints) as client:
        assert (client.get(counter)).value == b"new"


# ---------------------------------------------------------------------- the workers' code


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"ev": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


def worker_main(mode: str, config: dict[str, Any]) -> None:
    """Entry point of ``tests/workers/lock_worker.py``."""
    main = {"loop": _loop, "hold": _hold, "wait": _wait}[mode]
    if backend.IS_ASYNC:
        import asyncio

        asyncio.run(main(config))
    else:
        main(config)


def _loop(config: dict[str, Any]) -> None:
    """Acquire, (increment the counter), release; ``iterations`` times, or (0) until stdin
    closes. Errors from faults are counted (and kept, for diagnosis) and the loop goes on."""
    stop = threading.Event()
    if not config["iterations"]:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    records: list[tuple[float, float, int, bool]] = []
    stats, errors = Counter[str](), []

    def failed(during: str, error: EtcdError) -> None:
        stats[type(error).__name__] += 1
        errors.append((time.monotonic(), during, str(error)[:120]))

    with Client(config["endpoints"]) as client:
        # With "session": one session (of that TTL) for every acquisition, else one per acquire.
        session = client.session(config["session"]).start() if config.get("session") else None
        lock = client.lock(config["name"], ttl=TTL, session=session, identifier=str(os.getpid()))
        while not stop.is_set() and len(records) < (config["iterations"] or 10**9):
            try:
                if not lock.acquire(timeout=10):
                    stats["timeout"] += 1
                    continue
            except EtcdError as error:
                failed("acquire", error)
                backend.sleep(0.05)
                continue
            acquired, token, ok = time.monotonic(), lock.fencing_token, True
            if config["counter"] is not None:
                try:
                    ok = _increment(client, lock, config)
                    stats["written" if ok else "rejected"] += 1
                except EtcdError as error:
                    ok = False
                    failed("write", error)
            released = time.monotonic()
            try:
                lock.release()
            except LockLostError:
                stats["lost"] += 1
            except EtcdError as error:
                failed("release", error)
            records.append((acquired, released, token, ok))
    _emit("done", records=records, stats=stats, errors=errors)


def _increment(client: Client, lock: Lock, config: dict[str, Any]) -> bool:
    """Read the counter, hold a while, write it + 1 (through the guard, or not): written?

    Short deadlines: a write forwarded to a leader that was just paused is answered only after
    etcd's request timeout (5.5 s), all the while holding the lock."""
    counter = config["counter"]
    kv = (client.get(counter, timeout=1)).kv
    value = int(kv.value.split()[0]) if kv is not None else 0
    backend.sleep(config["hold"])
    new = f"{value + 1} {lock.fencing_token} {os.getpid()}"
    if config["guard"]:
        return (lock.guard(timeout=1).then(Op.put(counter, new)).commit()).succeeded
    client.put(counter, new, timeout=1)
    return True


def _hold(config: dict[str, Any]) -> None:
    """Acquire, wait for the ``go`` key, then try a guarded write and release."""
    with Client(config["endpoints"]) as client:
        with client.watch(config["go"]) as go:
            lock = client.lock(config["name"], ttl=TTL, identifier=str(os.getpid()))
            assert lock.acquire(timeout=10)
            go.read(60)
        try:
            write = lock.guard().then(Op.put(config["counter"], "zombie"))
            write_ok = (write.commit()).succeeded
        except LockLostError:
            write_ok = False
        try:
            lock.release()
            release = "ok"
        except EtcdError as error:
            release = type(error).__name__
    _emit("done", write_ok=write_ok, release=release)


def _wait(config: dict[str, Any]) -> None:
    """Wait for the lock (bounded) and tell whether it was acquired."""
    with Client(config["endpoints"]) as client:
        lock = client.lock(config["name"], ttl=TTL, identifier=str(os.getpid()))
        try:
            acquired, error = lock.acquire(timeout=30), None
        except SessionExpiredError as exc:
            acquired, error = False, type(exc).__name__
    _emit("done", acquired=acquired, error=error)
