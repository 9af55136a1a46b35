# GENERATED from tests/async_/test_election.py by scripts/unasync.py -- do not edit.
"""Leader election: campaign / resign / proclaim / observe, fencing, callbacks, background mode,
etcdctl interop, and multi-process failover (resign, SIGKILL, SIGSTOP past the TTL).

The worker processes' code is at the end of this file (``worker_main``), so that it exists in
both flavours; ``tests/workers/election_worker.py`` runs it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from etcd_recipes import (
    CampaignAbortedError,
    Client,
    Compare,
    ElectionSessionLostError,
    EtcdError,
    EtcdTimeoutError,
    EventType,
    LeaderInfo,
    LossReason,
    NotLeaderError,
    Op,
)
from etcd_recipes._sync import _backend as backend
from etcd_recipes.testing import EtcdServer

FLAVOUR = "sync"  # "sync" in the generated twin: the workers run the same flavour as the test
WORKER = Path(__file__).resolve().parents[1] / "workers" / "election_worker.py"


def _wait_candidates(client: Client, name: str, count: int, timeout: float = 5) -> None:
    """Wait (bounded) until ``count`` candidate keys exist under ``name/``."""
    prefix = name + "/"
    response = client.get(prefix, prefix=True, count_only=True)
    if response.count >= count:
        return
    with client.watch(prefix, prefix=True, start_revision=response.header.revision + 1) as w:
        deadline = time.monotonic() + timeout
        while (client.get(prefix, prefix=True, count_only=True)).count < count:
            w.read(max(deadline - time.monotonic(), 0.01))


class _Outcome:
    """Runs a call in the background (a task / a thread) and keeps its result or error."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = backend.Event()
        self._task = backend.spawn(self._run, func, *args, name="test-outcome")

    def _run(self, func: Callable[..., Any], *args: Any) -> None:
        try:
            self.result = func(*args)
        except BaseException as error:
            self.error = error
        finally:
            self.done.set()

    def wait(self, timeout: float = 5) -> _Outcome:
        assert backend.wait_event(self.done, timeout), "the call did not finish in time"
        return self


# ---------------------------------------------------------------------- one process


def test_campaign_resign_hands_over_with_callbacks(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "e"
    calls: list[tuple[Any, ...]] = []
    b_elected = backend.Event()

    def on_b_elected(info: LeaderInfo) -> None:
        calls.append(("b+", info.term, threading.current_thread().name))
        b_elected.set()

    a = c.election(
        name,
        ttl=5,
        on_elected=lambda info: calls.append(("a+", info.term)),
        on_lost=lambda info, reason: calls.append(("a-", info.term, reason)),
    )
    b = c.election(
        name,
        ttl=5,
        on_elected=on_b_elected,
        on_lost=lambda info, reason: calls.append(("b-", info.term, reason)),
    )
    with a, b:
        assert a.leader() is None
        info = a.campaign("a")
        assert a.leading and a.term == info.term and info.value == b"a"
        assert a.session is not None
        assert info.key == f"{name}/{a.session.lease_id:x}".encode()  # Go's key format
        assert b.leader() == info
        waiter = _Outcome(b.campaign, "b")
        _wait_candidates(c, name, 2)
        assert not b.leading and b.term is None
        a.resign()  # returns after on_lost ran
        assert ("a-", info.term, LossReason.RESIGNED) in calls
        assert backend.wait_event(b_elected, 5)
        assert (waiter.wait()).error is None
        assert b.leading and b.term is not None and b.term > info.term
        assert not a.leading and a.term is None
        assert (a.leader()) == waiter.result
        a.resign()  # not leading: nothing happens
    a_calls = [call for call in calls if call[0][0] == "a"]
    b_calls = [call for call in calls if call[0][0] == "b"]
    assert a_calls == [("a+", info.term), ("a-", info.term, LossReason.RESIGNED)]
    assert [call[0] for call in b_calls] == ["b+", "b-"]  # exactly once each
    assert b_calls[1] == ("b-", b_calls[0][1], LossReason.RESIGNED)
    if not backend.IS_ASYNC:
        assert b_calls[0][2] == "etcd-election"  # the documented thread
    assert (c.get(name + "/", prefix=True)).kvs == ()


def test_observe_reports_every_change_and_no_leader(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "e"
    with (
        c.election(name, ttl=5) as a,
        c.election(name, ttl=5) as b,
        a.observe() as changes,
    ):
        assert changes.read(2) is None
        first = a.campaign("a")
        seen = changes.read(2)
        assert seen is not None and seen.same_as(first) and changes.revision == first.term
        waiter = _Outcome(b.campaign, "b")
        _wait_candidates(c, name, 2)
        a.proclaim("a2")
        seen = changes.read(2)
        assert seen is not None and (seen.term, seen.value) == (first.term, b"a2")
        a.resign()
        second = changes.read(2)
        assert second is not None and second.value == b"b" and second.term > first.term
        assert (waiter.wait()).result == second
        b.resign()
        assert changes.read(2) is None  # Go's Observe never reports this
        with pytest.raises(EtcdTimeoutError):
            changes.read(0.05)


def test_campaign_timeout_and_abort_delete_the_key(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "e"
    with c.election(name, ttl=5) as a, c.election(name, ttl=5) as b:
        info = a.campaign("a")
        with pytest.raises(EtcdTimeoutError):
            b.campaign("b", timeout=0.2)
        assert [kv.key for kv in (c.get(name + "/", prefix=True)).kvs] == [info.key]
        assert b.key is None and not b.leading
        waiter = _Outcome(b.campaign, "b")
        _wait_candidates(c, name, 2)
        b.resign()  # ends the campaign, which deletes its key
        assert isinstance((waiter.wait()).error, CampaignAbortedError)
        assert [kv.key for kv in (c.get(name + "/", prefix=True)).kvs] == [info.key]
        assert a.leading


def test_candidate_whose_session_dies_is_never_elected(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    """The "zombie candidate": Go's Campaign returns as leader after its session died."""
    c = etcd_client
    name = etcd_key_prefix + "e"
    elected: list[int] = []
    with (
        c.election(name, ttl=5) as a,
        c.election(name, ttl=5, on_elected=lambda info: elected.append(info.term)) as b,
    ):
        a.campaign("a")
        waiter = _Outcome(b.campaign, "b")
        _wait_candidates(c, name, 2)
        assert b.session is not None
        c.lease.revoke(b.session.lease_id)  # b's key goes with its lease
        a.resign()  # b's predecessor goes: b must look again, not win
        assert isinstance((waiter.wait()).error, ElectionSessionLostError)
        assert not b.leading and elected == []
        assert a.leader() is None


def test_is_leader_fences_writes_and_proclaim(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    name, data = etcd_key_prefix + "e", etcd_key_prefix + "data"
    with c.election(name, ttl=5) as a, c.election(name, ttl=5) as b:
        with pytest.raises(NotLeaderError):
            a.is_leader()
        with pytest.raises(NotLeaderError):
            a.proclaim("x")
        first = a.campaign("a")
        fence = a.is_leader()
        assert (c.txn().if_(fence).then(Op.put(data, "a")).commit()).succeeded
        a.proclaim("a2")
        assert (a.campaign("a3")).value == b"a3"  # already leading: proclaims
        leader = a.leader()
        assert leader is not None and (leader.term, leader.value) == (first.term, b"a3")
        a.resign()
        second = b.campaign("b")
        assert second.term > first.term
        assert not (c.txn().if_(fence).then(Op.put(data, "stale")).commit()).succeeded
        assert (c.txn().if_(b.is_leader()).then(Op.put(data, "b")).commit()).succeeded
        assert (c.get(data)).value == b"b"
        with pytest.raises(NotLeaderError):
            a.is_leader()


def test_background_mode_key_deleted_leader_only_and_leadership(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    name = etcd_key_prefix + "e"
    events: backend.Queue[tuple[Any, ...]] = backend.Queue()
    election = c.election(
        name,
        ttl=5,
        on_elected=lambda info: events.put(("elected", info.term)),
        on_lost=lambda info, reason: events.put(("lost", info.term, reason)),
    )

    @election.leader_only
    def job(x: int) -> int:
        return x + 1

    with election:
        assert job(1) is None
        election.start("svc")
        kind, term = events.get(5)
        assert kind == "elected" and election.leading and job(1) == 2
        assert election.key is not None
        c.delete(election.key)  # an operator deletes the leader key
        assert events.get(5) == ("lost", term, LossReason.KEY_DELETED)
        kind, again = events.get(5)  # run() campaigns again
        assert kind == "elected" and again > term
        election.stop()
        assert events.get(5) == ("lost", again, LossReason.RESIGNED)
        assert not election.leading and job(1) is None
        with election.leadership("ctx") as info:
            assert election.leading and info.value == b"ctx"
            assert events.get(5) == ("elected", info.term)
        assert events.get(5) == ("lost", info.term, LossReason.RESIGNED)
        assert events.qsize() == 0


# ---------------------------------------------------------------------- etcdctl (Go) interop


class _Lines:
    """A process's stdout lines, read by a thread; every wait is bounded."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=_child_env())
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def next(self, timeout: float = 10) -> str:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout}s; so far {self.lines}") from None
        self.lines.append(line)
        return line

    def stop(self, signum: int = signal.SIGINT) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}


def test_etcdctl_elect_interoperates_both_ways(
    etcd_client: Client, etcd_server: EtcdServer, etcd_key_prefix: str
) -> None:
    etcdctl = etcd_server.binary.etcdctl
    if etcdctl is None:
        pytest.skip("no etcdctl next to the etcd binary")
    base = [str(etcdctl), f"--endpoints={etcd_server.endpoint}", "elect"]
    c = etcd_client
    name = etcd_key_prefix + "e"
    elected = backend.Event()
    with c.election(name, ttl=5, on_elected=lambda info: elected.set()) as ours:
        # Go leads first; we wait behind it and take over when it resigns.
        go = _Lines([*base, name, "from-go"])
        try:
            go_key = go.next()
            assert go.next() == "from-go"
            leader = ours.leader()
            assert leader is not None and leader.key.decode() == go_key
            ours.start("from-python")
            _wait_candidates(c, name, 2)
            assert not elected.is_set()
        finally:
            go.stop()  # SIGINT: etcdctl resigns
        assert backend.wait_event(elected, 5)
        # We lead; Go observes us and campaigns behind us.
        listen = _Lines([*base, "-l", name])
        go2 = _Lines([*base, name, "go-2"])
        try:
            assert ours.key is not None
            assert listen.next() == ours.key.decode() and listen.next() == "from-python"
            _wait_candidates(c, name, 2)
            ours.stop()  # resign: etcdctl is elected
            go2_key = go2.next()
            assert go2.next() == "go-2"
            assert listen.next() == go2_key and listen.next() == "go-2"
        finally:
            go2.stop()
            listen.stop()


# ---------------------------------------------------------------------- processes


class Workers:
    """Election worker processes (``tests/workers/election_worker.py``) and their events."""

    def __init__(self, endpoints: list[str], name: str, prefix: str) -> None:
        self.base = {"endpoints": endpoints, "name": name, "ctl": prefix + "ctl/"}
        self.data = prefix + "data"
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.events: list[dict[str, Any]] = []
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._taken: set[int] = set()
        self._readers: list[threading.Thread] = []

    def spawn(self, ident: str, role: str, **config: Any) -> None:
        config = {**self.base, "id": ident, "data": self.data, **config}
        argv = [sys.executable, str(WORKER), FLAVOUR, role, json.dumps(config)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=_child_env())
        self.procs[ident] = proc
        reader = threading.Thread(target=self._pump, args=(ident, proc), daemon=True)
        reader.start()
        self._readers.append(reader)

    def _pump(self, ident: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            event["id"] = ident
            self._queue.put(event)

    def wait_for(self, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The first event not returned before that matches every ``key=value`` (a callable
        value is a predicate); waits at most ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            for i in range(start, len(self.events)):
                event = self.events[i]
                if i not in self._taken and all(
                    f(event.get(k)) if callable(f) else event.get(k) == f for k, f in match.items()
                ):
                    self._taken.add(i)
                    return event
            start = len(self.events)
            try:
                self.events.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
            except queue.Empty:
                raise AssertionError(f"no event {match} within {timeout}s: {self.events}") from None

    def drain(self) -> None:
        while True:
            try:
                self.events.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def signal(self, ident: str, signum: int) -> None:
        self.procs[ident].send_signal(signum)

    def of(self, ident: str, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["id"] == ident and e["ev"] in kinds]

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
        for proc in self.procs.values():
            proc.wait(10)
        for reader in self._readers:
            reader.join(5)
        for proc in self.procs.values():
            assert proc.stdout is not None
            proc.stdout.close()


def check_transitions(workers: Workers) -> list[dict[str, Any]]:
    """Every worker's callbacks alternate elected/lost with the same term, exactly once each;
    terms are distinct across workers. Returns the elected events by term."""
    elected_all = []
    for ident in workers.procs:
        seq = workers.of(ident, "elected", "lost")
        for i, event in enumerate(seq):
            assert event["ev"] == ("elected" if i % 2 == 0 else "lost"), seq
            if i % 2:
                assert event["term"] == seq[i - 1]["term"], seq
        elected_all += [e for e in seq if e["ev"] == "elected"]
    terms = [e["term"] for e in elected_all]
    assert len(set(terms)) == len(terms), elected_all
    return sorted(elected_all, key=lambda e: e["term"])


def history(client: Client, key: str) -> list[str]:
    """Every value put at ``key`` since it was created (tests run one at a time, so no other
    test compacts the shared server meanwhile), oldest first."""
    current = client.get(key)
    now = current.header.revision
    first = current.kv.create_revision if current.kv is not None else now
    values: list[str] = []
    with client.watch(key, start_revision=first) as watcher:
        while True:
            try:
                response = watcher.read(0.5)
            except EtcdTimeoutError:
                return values
            values += [e.value.decode() for e in response.events if e.type is EventType.PUT]
            if response.events and response.events[-1].revision >= now:
                return values


def check_fenced(values: list[str]) -> None:
    """Writes ``"<worker>:<term>"``: terms never go back, and one worker per term."""
    pairs = [(int(v.split(":")[1]), v.split(":")[0]) for v in values]
    assert [t for t, _ in pairs] == sorted(t for t, _ in pairs), values
    owners: dict[int, str] = {}
    for term, who in pairs:
        assert owners.setdefault(term, who) == who, values


@pytest.fixture
def workers(etcd_endpoints: list[str], etcd_key_prefix: str) -> Iterator[Workers]:
    group = Workers(etcd_endpoints, etcd_key_prefix + "e", etcd_key_prefix)
    try:
        yield group
    finally:
        group.close()


def test_five_processes_one_leader_observed_in_order_resign_and_sigkill(
    etcd_client: Client, workers: Workers
) -> None:
    c = etcd_client
    ttl = 2
    workers.spawn("obs", "observer")
    workers.wait_for(ev="ready", id="obs")
    for i in range(5):
        workers.spawn(f"w{i}", "candidate", ttl=ttl)
    for i in range(5):
        workers.wait_for(ev="ready", id=f"w{i}")
    first = workers.wait_for(ev="elected")
    _wait_candidates(c, workers.base["name"], 5)

    c.put(workers.base["ctl"] + first["id"], "resign")
    second = workers.wait_for(ev="elected", term=lambda t: t > first["term"])
    assert second["id"] != first["id"]
    lost = workers.wait_for(ev="lost", id=first["id"])
    assert (lost["term"], lost["reason"]) == (first["term"], "resigned")

    workers.signal(second["id"], signal.SIGKILL)
    killed_at = time.monotonic()
    third = workers.wait_for(ev="elected", term=lambda t: t > second["term"], timeout=ttl + 5)
    assert third["t"] - killed_at < ttl + 1, "failover after SIGKILL took longer than ttl + 1 s"

    observed = [workers.wait_for(ev="leader", id="obs")["term"] for _ in range(4)]
    assert observed == [None, first["term"], second["term"], third["term"]]

    for ident in workers.procs:
        if ident not in ("obs", second["id"]):
            c.put(workers.base["ctl"] + ident, "exit")
    for ident in workers.procs:
        if ident not in ("obs", second["id"]):
            workers.wait_for(ev="exit", id=ident)
    while (last := workers.wait_for(ev="leader", id="obs"))["term"] is not None:
        observed.append(last["term"])
    workers.drain()
    by_term = check_transitions(workers)
    assert observed[1:] == sorted(observed[1:]) and len(set(observed[1:])) == len(observed) - 1
    assert {e["term"] for e in by_term} <= set(observed)  # every term was observed, in order
    assert len(by_term) >= 3 and by_term[:3] == [first, second, third]


def test_paused_leader_learns_it_lost_before_a_guarded_write(
    etcd_client: Client, workers: Workers
) -> None:
    c = etcd_client
    ttl = 1
    for ident in ("a", "b"):
        workers.spawn(ident, "candidate", ttl=ttl, write=True)
    old = workers.wait_for(ev="elected")
    workers.wait_for(ev="wrote", id=old["id"])
    other = "b" if old["id"] == "a" else "a"
    workers.wait_for(ev="ready", id=other)
    _wait_candidates(c, workers.base["name"], 2)

    workers.signal(old["id"], signal.SIGSTOP)
    new = workers.wait_for(ev="elected", id=other, timeout=ttl + 5)
    workers.wait_for(ev="wrote", id=other, term=new["term"])
    workers.signal(old["id"], signal.SIGCONT)
    lost = workers.wait_for(ev="lost", id=old["id"], timeout=5)  # learned without writing
    assert lost["term"] == old["term"] and lost["reason"] in ("session lost", "key deleted")

    c.put(workers.base["ctl"] + old["id"], "stale-write")
    stale = workers.wait_for(ev="stale-write", id=old["id"])
    assert stale["is_leader"] == "NotLeaderError" and not stale["leading"]
    assert not stale["guarded"], "a write fenced with the old term succeeded"
    assert stale["unguarded"], "control: the same write without the fence goes through"

    for ident in ("a", "b"):
        c.put(workers.base["ctl"] + ident, "exit")
        workers.wait_for(ev="exit", id=ident)
    workers.drain()
    check_transitions(workers)
    # Judged by revisions (a write in flight at SIGSTOP may be answered after SIGCONT):
    old_writes = [e["revision"] for e in workers.of(old["id"], "wrote") if e["term"] == old["term"]]
    new_writes = [e["revision"] for e in workers.of(other, "wrote") if e["term"] == new["term"]]
    assert max(old_writes) < min(new_writes)
    check_fenced(history(c, workers.data))


# ---------------------------------------------------------------------- worker processes

_emit_lock = threading.Lock()


def _emit(event: str, **fields: Any) -> None:
    line = json.dumps({"ev": event, "t": time.monotonic(), **fields})
    with _emit_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def worker_main(role: str, config: dict[str, Any]) -> None:
    """Entry point of ``tests/workers/election_worker.py``."""
    main = _candidate if role == "candidate" else _observer
    if backend.IS_ASYNC:
        import asyncio

        asyncio.run(main(config))
    else:
        main(config)


def _observer(config: dict[str, Any]) -> None:
    client = Client(config["endpoints"])
    with client, client.election(config["name"]).observe() as changes:
        _emit("ready")
        for leader in changes:
            term = leader.term if leader is not None else None
            _emit("leader", term=term, revision=changes.revision)


def _candidate(config: dict[str, Any]) -> None:
    me, data = config["id"], config["data"]
    held: dict[str, Any] = {}

    def elected(info: LeaderInfo) -> None:
        held["fence"], held["term"] = Compare.create_revision(info.key) == info.term, info.term
        _emit("elected", term=info.term)

    def lost(info: LeaderInfo, reason: LossReason) -> None:
        _emit("lost", term=info.term, reason=reason.value)

    with Client(config["endpoints"]) as client:
        election = client.election(
            config["name"], ttl=config["ttl"], on_elected=elected, on_lost=lost
        )
        stop = backend.Event()
        writer = backend.spawn(_write_while_leading, client, election, data, me, stop)
        with client.watch(config["ctl"] + me) as commands:
            election.start(me)
            _emit("ready")
            for response in commands:
                command = response.events[-1].value.decode()
                if command == "resign":
                    election.resign()
                elif command == "stale-write":
                    try:
                        election.is_leader()
                        check = "ok"
                    except NotLeaderError as error:
                        check = type(error).__name__
                    value = f"{me}:{held['term']}"
                    fenced = client.txn().if_(held["fence"]).then(Op.put(data, value)).commit()
                    blind = client.put(data + "-control", value)
                    _emit(
                        "stale-write",
                        is_leader=check,
                        leading=election.leading,
                        guarded=fenced.succeeded,
                        unguarded=blind.header.revision > 0,
                    )
                elif command == "exit":
                    stop.set()
                    writer.join(5)
                    election.close()
                    _emit("exit")
                    return


def _write_while_leading(client: Client, election: Any, data: str, me: str, stop: Any) -> None:
    """The leader's work: a write fenced by its term every 20 ms while it leads."""
    while not stop.is_set():
        if election.leading:
            try:
                fence, term = election.is_leader(), election.term
                response = (
                    client.txn(timeout=2).if_(fence).then(Op.put(data, f"{me}:{term}")).commit()
                )
                if response.succeeded:
                    _emit("wrote", term=term, revision=response.header.revision)
            except (NotLeaderError, EtcdError):
                pass
        backend.wait_event(stop, 0.02)
