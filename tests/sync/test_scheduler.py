# GENERATED from tests/async_/test_scheduler.py by scripts/unasync.py -- do not edit.
"""The distributed cron scheduler against a real etcd (``client.scheduler``).

- Bad definitions are refused with clear errors and nothing is written.
- A decorated job runs every tick with an increasing fencing token that guards writes.
- trigger / pause / resume / update of the schedule and arguments while a worker runs.
- kill: an async handler is cancelled, a command terminated, a command ignoring SIGTERM killed.
- overlap forbid vs replace across two workers; misfire skip vs run_once (injected clock jump);
  a DST change with an injected clock; retries after a failure and after a lost run.
- 3 worker processes (one with its clock 2 s ahead), 20 jobs every second for
  ``$SCHEDULER_SOAK_SECONDS`` (default 30) seconds while a worker is SIGKILLed and restarted:
  every tick has exactly one record and ran at most once (the handlers' own trace).

The worker processes' code is at the end of this file (``worker_main``), so that it exists in
both flavours; ``tests/workers/scheduler_worker.py`` runs it. The cluster fault test is in
``test_scheduler_faults.py``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from etcd_recipes import (
    Client,
    EtcdTimeoutError,
    EventType,
    InvalidArgumentError,
    InvalidJobError,
    JobContext,
    JobExistsError,
    JobNotFoundError,
    JobSpec,
    KeyValue,
    Op,
    RunOutcome,
    RunRecord,
    Scheduler,
    UnknownHandlerError,
)
from etcd_recipes._core import schedule as sched
from etcd_recipes._sync import _backend as backend

FLAVOUR = "sync"  # "sync" in the generated twin: the workers run the same flavour as the test
WORKER = Path(__file__).resolve().parents[1] / "workers" / "scheduler_worker.py"
SOAK_SECONDS = float(os.environ.get("SCHEDULER_SOAK_SECONDS", "30"))
SOAK_JOBS = int(os.environ.get("SCHEDULER_SOAK_JOBS", "20"))
UTC = timezone.utc


class MutableClock:
    """The system clock plus an offset the test can change (a jump in time)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


# ---------------------------------------------------------------------- helpers


def watch_until(
    client: Client,
    prefix: str,
    done: Callable[[dict[bytes, KeyValue]], bool],
    timeout: float,
    *,
    expect_timeout: bool = False,
) -> dict[bytes, KeyValue]:
    """The live keys under ``prefix`` once ``done(keys)`` holds; fed by a watch, bounded.

    With ``expect_timeout`` the keys are returned when ``timeout`` passes instead of failing.
    """
    got = client.get(prefix, prefix=True)
    keys = {kv.key: kv for kv in got.kvs}
    deadline = time.monotonic() + timeout
    with client.watch(prefix, prefix=True, start_revision=got.header.revision + 1) as watcher:
        while not done(keys):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if expect_timeout:
                    return keys
                raise AssertionError(f"condition not met within {timeout}s: {sorted(keys)}")
            try:
                response = watcher.read(remaining)
            except EtcdTimeoutError:
                continue
            for event in response.events:
                if event.type is EventType.PUT:
                    keys[event.key] = event.kv
                else:
                    keys.pop(event.key, None)
    return keys


def records_of(keys: dict[bytes, KeyValue]) -> list[RunRecord]:
    """Run records from watched history keys, by job and run id."""
    records = [RunRecord.from_json(kv.value, revision=kv.mod_revision) for kv in keys.values()]
    return sorted(records, key=lambda r: (r.job, r.run_id))


def wait_records(
    scheduler: Scheduler,
    done: Callable[[list[RunRecord]], bool],
    timeout: float = 15.0,
    **options: Any,
) -> list[RunRecord]:
    """All run records once ``done(records)`` holds (bounded, watch-fed)."""
    keys = watch_until(
        scheduler.client,
        scheduler.keys.history(),
        lambda keys: done(records_of(keys)),
        timeout,
        **options,
    )
    return records_of(keys)


def of(records: list[RunRecord], job: str, outcome: str | None = None) -> list[RunRecord]:
    """The records of ``job`` (with ``outcome``)."""
    return [r for r in records if r.job == job and (outcome is None or r.outcome == outcome)]


def wait_running(scheduler: Scheduler, job: str, timeout: float = 10.0) -> None:
    """Wait (watch-fed) until a run of ``job`` is in progress."""
    watch_until(scheduler.client, scheduler.keys.running(job), bool, timeout)


def hold(ctx: JobContext) -> str:
    """A handler that runs until cancelled or ``args["seconds"]`` pass."""
    cancelled = ctx.wait_cancelled(float(ctx.args.get("seconds", 30)))
    return "cancelled" if cancelled else "done"


def hold_first(ctx: JobContext) -> str:
    """``hold`` on the first attempt; later attempts (retries) return at once."""
    if ctx.attempt > 1:
        return f"attempt {ctx.attempt}"
    return hold(ctx)


# ---------------------------------------------------------------------- definitions


def test_bad_definitions_are_refused_and_nothing_is_written(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    client = etcd_client
    scheduler = client.scheduler(etcd_key_prefix)
    with pytest.raises(InvalidJobError, match="bad cron expression '99 \\* \\* \\* \\*'"):
        JobSpec("j", "99 * * * *", handler="h")
    with pytest.raises(InvalidJobError, match="unknown time zone 'Atlantis/Capital'"):
        JobSpec("j", "@hourly", timezone="Atlantis/Capital", handler="h")
    with pytest.raises(InvalidJobError, match="reserved"):
        JobSpec("runs", "@hourly", handler="h")
    with pytest.raises(UnknownHandlerError, match="no handler named 'nobody'"):
        scheduler.add_job(JobSpec("j", "@hourly", handler="nobody"))
    with pytest.raises(InvalidArgumentError, match="needs a JobSpec"):
        scheduler.add_job({"name": "j"})  # type: ignore[arg-type]
    with pytest.raises(InvalidJobError, match="bad cron"):

        @scheduler.job("deco", cron="* * *")
        def deco(ctx: JobContext) -> None:
            pass

    assert (client.get(etcd_key_prefix, prefix=True)).kvs == ()

    ok = JobSpec("ok", "@hourly", command="true")
    scheduler.add_job(ok)
    with pytest.raises(JobExistsError):
        scheduler.add_job(JobSpec("ok", "@daily", command="true"))
    with pytest.raises(InvalidJobError, match="overlap must be one of"):
        scheduler.update_job("ok", overlap="sometimes")
    with pytest.raises(UnknownHandlerError):
        scheduler.update_job("ok", command=None, handler="ghost")
    for verb in (scheduler.pause, scheduler.trigger, scheduler.remove_job, scheduler.get_job):
        with pytest.raises(JobNotFoundError):
            verb("missing")
    assert scheduler.jobs() == [ok]
    stored = [kv.key for kv in (client.get(etcd_key_prefix, prefix=True)).kvs]
    assert stored == [(etcd_key_prefix + "ok").encode()]

    # A live worker advertising a handler makes it known to every process.
    with scheduler.worker({"known": hold}, worker_id="w1"):
        other = client.scheduler(etcd_key_prefix)
        other.add_job(JobSpec("k", "@hourly", handler="known", paused=True))
        assert [w.id for w in other.workers()] == ["w1"]
        assert (other.workers())[0].handlers == ("known",)
    assert other.workers() == []
    scheduler.remove_job("k")
    assert [spec.name for spec in scheduler.jobs()] == ["ok"]


# ---------------------------------------------------------------------- running


def test_decorated_job_runs_every_tick_with_a_fencing_token(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    client = etcd_client
    scheduler = client.scheduler(etcd_key_prefix, session_ttl=3)
    seen: list[tuple[str, int, bool]] = []

    @scheduler.job("tick", cron="* * * * * *", args={"n": 1}, history_limit=50)
    def tick(ctx: JobContext) -> int:
        guarded = client.txn().if_(ctx.fence()).then(Op.put(etcd_key_prefix + "out", ctx.run_id))
        seen.append((ctx.run_id, ctx.token, (guarded.commit()).succeeded))
        return int(ctx.args["n"])

    with scheduler.worker(worker_id="w") as worker:
        records = wait_records(scheduler, lambda rs: len(of(rs, "tick")) >= 3)
        assert worker.next_fire("tick") is not None
        status = scheduler.status()
    assert scheduler.get_job("tick") == JobSpec(
        "tick", "* * * * * *", handler="tick", args={"n": 1}, history_limit=50
    )
    runs = of(records, "tick")[:3]
    assert [r.outcome for r in runs] == [RunOutcome.OK] * 3 and runs[0].output == "1"
    assert [r.token for r in runs] == sorted({r.token for r in runs})
    assert [int(r.tick.timestamp()) for r in runs if r.tick] == list(
        range(int(runs[0].tick.timestamp()), int(runs[0].tick.timestamp()) + 3)  # type: ignore[union-attr]
    )
    assert all(fenced for _, _, fenced in seen) and {t for _, t, _ in seen} >= {
        r.token for r in runs
    }
    assert status[0].spec.name == "tick" and status[0].next_fire is not None
    assert status[0].last is not None and status[0].last.outcome == RunOutcome.OK
    assert scheduler.workers() == [] and scheduler.running() == []


def test_history_is_pruned_to_its_limit_keeping_the_newest(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    scheduler = etcd_client.scheduler(etcd_key_prefix, session_ttl=3)
    for name in ("a", "b"):  # two jobs: their pruning shares requests
        spec = JobSpec(name, "@hourly", handler="echo", paused=True, history_limit=4)
        scheduler.add_job(spec, check_handler=False)
    run_ids: dict[str, list[str]] = {"a": [], "b": []}
    with scheduler.worker({"echo": lambda ctx: ctx.run_id}, worker_id="w"):
        for _ in range(11):
            for name in ("a", "b"):
                run_ids[name].append(scheduler.trigger(name))
            for name in ("a", "b"):
                scheduler.wait_record(name, run_ids[name][-1], timeout=10)
        records = wait_records(
            scheduler, lambda rs: all(len(of(rs, n)) == 4 for n in ("a", "b")), timeout=10
        )
    for name in ("a", "b"):  # the newest four are kept (the last prune came after the last run)
        assert [r.run_id for r in of(records, name)] == sorted(run_ids[name])[-4:]


def test_trigger_pause_resume_and_update_while_running(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    scheduler = etcd_client.scheduler(etcd_key_prefix, session_ttl=3)

    def echo(ctx: JobContext) -> Any:
        return ctx.args.get("v")

    scheduler.add_job(JobSpec("p", "* * * * * *", handler="echo", paused=True), check_handler=False)
    scheduler.add_job(
        JobSpec("u", "@at 2099-01-01T00:00:00", handler="echo", args={"v": 1}),
        check_handler=False,
    )
    with scheduler.worker({"echo": echo}, worker_id="w"):
        run_id = scheduler.trigger("p")
        manual = scheduler.wait_record("p", run_id, timeout=10)
        assert manual.outcome == RunOutcome.OK and manual.kind == "manual"

        # Schedule changed while the worker runs: picked up through the watch.
        scheduler.update_job("u", schedule="* * * * * *")
        first = scheduler.wait_record("u", timeout=10)
        assert first.kind == "scheduled" and first.output == "1"
        scheduler.update_job("u", args={"v": 2})
        wait_records(scheduler, lambda rs: any(r.output == "2" for r in of(rs, "u")), timeout=10)

        scheduler.resume("p")
        assert (scheduler.wait_record("p", timeout=10)).kind == "scheduled"
        scheduler.pause("p")
        paused_at = time.time()
        records = wait_records(scheduler, lambda rs: False, 1.5, expect_timeout=True)
    late = [r for r in of(records, "p") if r.tick and r.tick.timestamp() > paused_at + 1]
    assert late == []  # nothing scheduled after the pause took effect
    assert of(records, "p")[0].kind == "manual"


def wait_file(path: Path, timeout: float = 10.0) -> None:
    """Wait (bounded) until a command run by a worker created ``path``."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not created within {timeout}s"
        time.sleep(0.01)


def test_kill_cancels_handlers_and_terminates_commands(
    etcd_client: Client, etcd_key_prefix: str, tmp_path: Path
) -> None:
    scheduler = etcd_client.scheduler(etcd_key_prefix, session_ttl=3, kill_grace=0.5)
    ready = {name: tmp_path / name for name in ("sh", "stubborn")}
    for spec in (
        JobSpec("py", "@hourly", handler="hold", paused=True),
        JobSpec("sh", "@hourly", command=f"touch {ready['sh']}; sleep 30", paused=True),
        JobSpec(
            "stubborn",
            "@hourly",
            command=f"trap '' TERM; touch {ready['stubborn']}; sleep 30",
            paused=True,
        ),
    ):
        scheduler.add_job(spec, check_handler=False)
    with scheduler.worker({"hold": hold}, worker_id="w"):
        run_ids = {name: scheduler.trigger(name) for name in ("py", "sh", "stubborn")}
        killed_at = {}
        for name in run_ids:
            wait_running(scheduler, name)
            if name in ready:
                wait_file(ready[name])  # the shell is past its trap
            killed_at[name] = time.time()
            assert scheduler.kill(name) == 1
        records = {
            name: scheduler.wait_record(name, run_id, timeout=10)
            for name, run_id in run_ids.items()
        }
    for name, record in records.items():
        assert record.outcome == RunOutcome.KILLED, record
        assert record.ended is not None and record.ended < killed_at[name] + 5
    assert records["stubborn"].ended is not None
    assert records["stubborn"].ended >= killed_at["stubborn"] + 0.5  # SIGKILL after the grace
    assert records["sh"].exit_code == -signal.SIGTERM
    assert records["stubborn"].exit_code == -signal.SIGKILL
    assert scheduler.running() == []


def test_overlap_forbid_skips_and_replace_kills_across_workers(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    scheduler = etcd_client.scheduler(etcd_key_prefix, session_ttl=3, kill_grace=0.5)
    for name, overlap in (("forbid", "forbid"), ("replace", "replace")):
        spec = JobSpec(name, "* * * * * *", handler="hold", args={"seconds": 1.5}, overlap=overlap)
        scheduler.add_job(spec, check_handler=False)
    with (
        scheduler.worker({"hold": hold}, worker_id="w1"),
        scheduler.worker({"hold": hold}, worker_id="w2"),
    ):
        records = wait_records(
            scheduler,
            lambda rs: (
                len(of(rs, "forbid", "ok")) >= 1
                and len(of(rs, "forbid", "skipped")) >= 1
                and len(of(rs, "replace", "killed")) >= 2
            ),
            timeout=20,
        )
        scheduler.pause("forbid")
        scheduler.pause("replace")
    done = of(records, "forbid", "ok")
    assert all(r.output == "'done'" for r in done)
    skipped = of(records, "forbid", "skipped")
    assert all("still in progress" in (r.error or "") for r in skipped)
    # The skipped ticks fell while the finished run was going: never two at once.
    first = done[0]
    assert first.tick is not None and first.ended is not None
    assert any(r.tick and first.tick < r.tick < sched.to_datetime(first.ended) for r in skipped)
    killed = of(records, "replace", "killed")
    assert all("killed at revision" in (r.error or "") for r in killed)
    assert {r.worker for r in records} <= {"w1", "w2"}


def test_misfire_skip_versus_run_once_after_a_clock_jump(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    now = time.time()
    base = (math.floor(now / 5) + 20) * 5  # a future tick of '@every 5s' ...
    clock = MutableClock(base + 2.5 - now)  # ... the worker's clock is 2.5 s past it
    scheduler = etcd_client.scheduler(etcd_key_prefix, session_ttl=3, clock=clock)
    for name, misfire in (("skip", "skip"), ("once", "run_once")):
        spec = JobSpec(name, "@every 5s", handler="echo", misfire=misfire, misfire_grace=1.0)
        scheduler.add_job(spec, check_handler=False)
    with scheduler.worker({"echo": lambda ctx: None}, worker_id="w"):
        clock.offset += 15.0  # 3 ticks pass at once: 12.5, 7.5 and 2.5 s late
        expected = [sched.tick_id(sched.to_datetime(base + 5 * i)) for i in (1, 2, 3)]
        records = wait_records(
            scheduler,
            lambda rs: all(
                {r.run_id for r in of(rs, job)} >= set(expected) for job in ("skip", "once")
            ),
        )
    outcome = {(r.job, r.run_id): r.outcome for r in records}
    assert [outcome["skip", i] for i in expected] == [RunOutcome.MISSED] * 3
    assert [outcome["once", i] for i in expected] == [
        RunOutcome.MISSED,
        RunOutcome.MISSED,
        RunOutcome.OK,
    ]


def test_dst_change_with_an_injected_clock(etcd_client: Client, etcd_key_prefix: str) -> None:
    client = etcd_client
    # 2025-03-09 02:00 EST jumps to 03:00 EDT (07:00 UTC): 02:30 does not exist that day and
    # runs at the jump. 2025-11-02 01:00-02:00 happens twice: 01:30 runs once (at 05:30 UTC).
    spring = datetime(2025, 3, 9, 7, tzinfo=UTC).timestamp()
    fall = datetime(2025, 11, 2, 5, 30, tzinfo=UTC).timestamp()
    s1 = client.scheduler(etcd_key_prefix + "a/", session_ttl=3, clock=MutableClock(0))
    s2 = client.scheduler(etcd_key_prefix + "b/", session_ttl=3, clock=MutableClock(0))
    ny = "America/New_York"
    s1.add_job(JobSpec("spring", "30 2 * * *", handler="h", timezone=ny), check_handler=False)
    s2.add_job(JobSpec("fall", "30 1 * * *", handler="h", timezone=ny), check_handler=False)
    for scheduler, moment in ((s1, spring), (s2, fall)):
        scheduler.clock.offset = moment - 1.5 - time.time()  # type: ignore[attr-defined]
    with s1.worker({"h": lambda ctx: None}), s2.worker({"h": lambda ctx: None}) as w2:
        (spring_run,) = wait_records(s1, bool)
        (fall_run,) = wait_records(s2, bool)
        assert w2.next_fire("fall") == datetime(2025, 11, 3, 6, 30, tzinfo=UTC)
    assert spring_run.tick == datetime(2025, 3, 9, 7, tzinfo=UTC)
    assert fall_run.tick == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    assert spring_run.outcome == fall_run.outcome == RunOutcome.OK


def test_retries_after_a_failure_and_after_a_lost_run(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    client = etcd_client
    scheduler = client.scheduler(etcd_key_prefix, session_ttl=3, kill_grace=0.5)

    def flaky(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "recovered"

    def victim(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            ctx.wait_cancelled(30)
        return f"attempt {ctx.attempt}"

    for name in ("flaky", "victim"):
        spec = JobSpec(name, "@hourly", handler=name, retries=1, retry_backoff=0.2, paused=True)
        scheduler.add_job(spec, check_handler=False)
    handlers = {"flaky": flaky, "victim": victim}
    with (
        scheduler.worker(handlers, worker_id="w1"),
        scheduler.worker(handlers, worker_id="w2"),
    ):
        flaky_id = scheduler.trigger("flaky")
        # Recorded before a session ends below: a run whose record is not written when its
        # worker's session ends is recorded as lost, whichever way it ended.
        scheduler.wait_record("flaky", flaky_id, timeout=10)
        victim_id = scheduler.trigger("victim")
        wait_running(scheduler, "victim")
        running = scheduler.running("victim")
        client.lease.revoke(running[0].lease)  # the worker's session ends mid-run
        records = wait_records(
            scheduler,
            lambda rs: {r.run_id for r in rs} >= {f"{flaky_id}#r2", f"{victim_id}#r2"},
        )
        wait_workers(scheduler, {"w1", "w2"})  # the victim registered a new session
    outcome = {r.run_id: r for r in records}
    assert outcome[flaky_id].outcome == RunOutcome.FAILED
    assert "RuntimeError: first attempt fails" in (outcome[flaky_id].error or "")
    retried = outcome[f"{flaky_id}#r2"]
    assert (retried.outcome, retried.kind, retried.attempt) == (RunOutcome.OK, "retry", 2)
    lost = outcome[victim_id]
    assert lost.outcome == RunOutcome.LOST and lost.worker == running[0].worker
    assert outcome[f"{victim_id}#r2"].output == "'attempt 2'"


# ---------------------------------------------------------------------- worker processes


class SchedulerWorkers:
    """Scheduler worker processes (``tests/workers/scheduler_worker.py``)."""

    def __init__(self, tmp_path: Path, prefix: str) -> None:
        self.trace = tmp_path / "trace.txt"
        self.prefix = prefix
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = tmp_path

    def start(self, worker_id: str, endpoints: list[str], **config: Any) -> None:
        config = {
            "id": worker_id,
            "endpoints": endpoints,
            "prefix": self.prefix,
            "trace": str(self.trace),
            "session_ttl": 3,
            **config,
        }
        log = open(self.logs / f"{worker_id}.log", "ab")  # noqa: SIM115 - kept by the process
        self.procs[worker_id] = subprocess.Popen(
            [sys.executable, str(WORKER), FLAVOUR, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
        )
        log.close()

    def kill(self, worker_id: str) -> None:
        proc = self.procs[worker_id]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdin is not None:
            proc.stdin.close()

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.procs.values():
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def executions(self) -> Counter[tuple[str, str]]:
        """How many times each (job, run id) ran, from the handlers' own trace."""
        if not self.trace.exists():
            return Counter()
        lines = self.trace.read_text().split("\n")
        return Counter((line.split()[0], line.split()[1]) for line in lines if line.strip())

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
            for p in self.logs.glob("*.log")
        )


def wait_workers(scheduler: Scheduler, ids: set[str], timeout: float = 30.0) -> None:
    """Wait (watch-fed) until every worker in ``ids`` is registered."""

    def registered(keys: dict[bytes, KeyValue]) -> bool:
        return ids <= {scheduler.keys.split(key)[1] for key in keys}

    watch_until(scheduler.client, scheduler.keys.workers(), registered, timeout)


def check_every_tick_once(
    records: list[RunRecord],
    executions: Counter[tuple[str, str]],
    names: list[str],
    ticks: list[str],
) -> Counter[str]:
    """No tick ran twice; every tick of the window has one record; the outcome counts."""
    duplicates = {key: n for key, n in executions.items() if n > 1}
    assert duplicates == {}, f"ticks that ran more than once: {duplicates}"
    by_key = {(r.job, r.run_id): r for r in records}
    missing = [(n, t) for n in names for t in ticks if (n, t) not in by_key]
    assert missing == [], f"{len(missing)} ticks without a record, e.g. {missing[:5]}"
    outcomes: Counter[str] = Counter()
    for name in names:
        for tick in ticks:
            record = by_key[name, tick]
            outcomes[record.outcome] += 1
            if record.outcome == RunOutcome.OK:
                assert executions[name, tick] == 1, (name, tick)
            else:
                assert record.outcome in (RunOutcome.LOST, RunOutcome.MISSED), record
    return outcomes


def window(start: int, seconds: float) -> list[str]:
    """The tick ids of an every-second job in ``[start, start + seconds)``."""
    return [sched.tick_id(sched.to_datetime(start + i)) for i in range(int(seconds))]


def sleep_until(moment: float) -> None:
    """Wait until a wall-clock time (to time a fault, not to synchronise)."""
    backend.sleep(max(0.0, moment - time.time()))


def test_three_worker_processes_run_every_tick_once_through_a_sigkill(
    etcd_client: Client,
    etcd_endpoints: list[str],
    etcd_key_prefix: str,
    tmp_path: Path,
) -> None:
    scheduler = etcd_client.scheduler(etcd_key_prefix)
    names = [f"j{i:02d}" for i in range(SOAK_JOBS)]
    for name in names:
        spec = JobSpec(name, "* * * * * *", handler="record", overlap="allow", history_limit=1000)
        scheduler.add_job(spec, check_handler=False)
    workers = SchedulerWorkers(tmp_path, etcd_key_prefix)
    try:
        workers.start("w0", etcd_endpoints, offset=2.0)  # its clock is 2 s ahead
        workers.start("w1", etcd_endpoints)
        workers.start("w2", etcd_endpoints)
        wait_workers(scheduler, {"w0", "w1", "w2"})
        start = math.ceil(time.time()) + 1
        ticks = window(start, SOAK_SECONDS)
        sleep_until(start + SOAK_SECONDS / 3)
        workers.kill("w0")  # the skewed worker wins every claim: the others take over
        workers.start("w0", etcd_endpoints, offset=2.0)
        records = wait_records(
            scheduler,
            lambda rs: all(
                len([r for r in rs if r.run_id in ticks and r.job == n]) == len(ticks)
                for n in names
            ),
            timeout=SOAK_SECONDS + 20,
        )
    except AssertionError:
        print(workers.log_tail())
        raise
    finally:
        workers.stop()
    outcomes = check_every_tick_once(records, workers.executions(), names, ticks)
    print(f"{len(names)} jobs x {len(ticks)} ticks: {dict(outcomes)}")
    assert outcomes[RunOutcome.MISSED] == 0
    assert outcomes[RunOutcome.OK] >= len(names) * len(ticks) - 3 * len(names)


def test_runs_of_a_sole_worker_killed_mid_run_are_recorded_lost_once_by_later_workers(
    etcd_client: Client,
    etcd_endpoints: list[str],
    etcd_key_prefix: str,
    tmp_path: Path,
) -> None:
    client = etcd_client
    scheduler = client.scheduler(etcd_key_prefix)
    for name, retries in (("once", 0), ("again", 1)):
        spec = JobSpec(name, "@hourly", handler="hold", args={"seconds": 60}, paused=True)
        scheduler.add_job(spec.replace(retries=retries, retry_backoff=0.1), check_handler=False)
    workers = SchedulerWorkers(tmp_path, etcd_key_prefix)
    try:
        workers.start("w0", etcd_endpoints, session_ttl=2)
        wait_workers(scheduler, {"w0"})
        once_id = scheduler.trigger("once")
        again_id = scheduler.trigger("again")
        wait_running(scheduler, "once")
        wait_running(scheduler, "again")
        running = scheduler.running()
        workers.kill("w0")  # the sole worker dies mid-run: nobody sees its session end
        watch_until(client, scheduler.keys.workers(), lambda keys: not keys, 15.0)
        gone = client.get(scheduler.keys.running(), prefix=True)
        assert not gone.kvs and not scheduler.history("once")
        workers.start("w1", etcd_endpoints, session_ttl=2)  # two workers start at once
        workers.start("w2", etcd_endpoints, session_ttl=2)
        records = wait_records(
            scheduler, lambda rs: {r.run_id for r in rs} >= {once_id, again_id, f"{again_id}#r2"}
        )
        wait_workers(scheduler, {"w1", "w2"})
        markers = watch_until(client, scheduler.keys.sessions(), lambda keys: len(keys) == 2, 10.0)
    except AssertionError:
        print(workers.log_tail())
        raise
    finally:
        workers.stop()
    assert {scheduler.keys.split(key)[1] for key in markers} == {"w1", "w2"}
    by_id = {r.run_id: r for r in records}
    assert set(by_id) == {once_id, again_id, f"{again_id}#r2"}  # one retry, nothing else
    tokens = {r.run_id: r.token for r in running}
    for run_id in (once_id, again_id):
        record = by_id[run_id]
        assert (record.outcome, record.worker, record.token) == (
            RunOutcome.LOST,
            "w0",
            tokens[run_id],
        )
        assert record.started is not None and record.tick is not None
        got = client.get(scheduler.keys.record(record.job, run_id))
        assert got.kvs[0].version == 1  # written once, never overwritten
    retry = by_id[f"{again_id}#r2"]
    assert (retry.outcome, retry.attempt, retry.output) == (RunOutcome.OK, 2, "'attempt 2'")


# ---------------------------------------------------------------------- the worker process


def worker_main(config: dict[str, Any]) -> None:
    """Entry point of ``tests/workers/scheduler_worker.py``."""
    if backend.IS_ASYNC:
        import asyncio

        asyncio.run(_worker(config))
    else:
        _worker(config)


def _worker(config: dict[str, Any]) -> None:
    """Run a worker with a ``record`` handler (appends ``job run_id token worker`` to the trace
    file) until stdin closes."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    fd = os.open(config["trace"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(ctx: JobContext) -> None:
        os.write(fd, f"{ctx.job} {ctx.run_id} {ctx.token} {ctx.worker_id}\n".encode())

    with Client(config["endpoints"]) as client:
        scheduler = client.scheduler(
            config["prefix"],
            clock=sched.OffsetClock(config.get("offset", 0.0)),
            session_ttl=config["session_ttl"],
        )
        handlers = {"record": record, "hold": hold_first}
        with scheduler.worker(handlers, worker_id=config["id"]) as worker:
            while not stop.is_set():
                backend.sleep(0.1)
            print(json.dumps({"id": config["id"], "stats": worker.stats}), flush=True)
