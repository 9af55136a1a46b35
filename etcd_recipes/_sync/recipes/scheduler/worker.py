# GENERATED from etcd_recipes/_async/recipes/scheduler/worker.py by scripts/unasync.py -- do not edit.
"""The scheduler's worker: claims ticks with one transaction each, runs them, records them.

See the package docstring (``etcd_recipes._sync.recipes.scheduler``) for the keys, the
transactions and the error handling.
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import json
import logging
import os
import secrets
import socket
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ...._core import schedule as sched
from ...._core.jobs import (
    OUTPUT_LIMIT,
    JobSpec,
    RunOutcome,
    RunRecord,
    check_worker_id,
    encode_json,
    truncate,
)
from ...._core.ops import Compare, Op, SortOrder, SortTarget
from ...._core.types import Event, EventType, GetResponse
from ...._exceptions import (
    ClientClosedError,
    CompactedError,
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
    LeaseNotFoundError,
)
from ...._pb import rpc_pb2
from ... import _backend as backend
from ...lease import Lease
from ..session import Session
from .lost import LostRuns
from .run import JobContext, Run, run_command, run_handler
from .txns import Claim, Finish, Fire, Worker, claim_into, finish_into, retry_ops

if TYPE_CHECKING:
    from .api import Scheduler

log = logging.getLogger("etcd_recipes.scheduler")

Handler = Callable[..., Any]
"""A job handler: ``handler(ctx)``; with Scheduler it may also be a coroutine function."""

_MAX_SLEEP = 0.5  # the tick loop re-reads the clock at least this often (clock jumps, skew)
_FINISH_BUDGET = 30.0  # seconds spent retrying a run's record before giving up (logged)
_BATCH = 64  # claims or finishes per request (etcd's default --max-txn-ops is 128)


@dataclass
class _JobState:
    spec: JobSpec
    schedule: sched.Schedule
    tz: ZoneInfo
    generation: int
    last_tick: datetime | None = None


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    kind: str = field(compare=False)  # "tick" or "trigger"
    name: str = field(compare=False)
    generation: int = field(compare=False, default=0)
    tick: datetime | None = field(compare=False, default=None)
    run_id: str = field(compare=False, default="")
    attempt: int = field(compare=False, default=1)
    run_kind: str = field(compare=False, default="scheduled")
    wait_until: float = field(compare=False, default=0.0)


def _default_worker_id() -> str:
    host = "".join(c if c.isalnum() or c in "_.-" else "-" for c in socket.gethostname())
    return f"{host or 'worker'}-{os.getpid()}-{secrets.token_hex(2)}"


class SchedulerWorker:
    """A worker: runs the jobs whose handlers it has (and shell commands, unless
    ``commands=False``), each tick exactly once across all workers.

    ``worker.start()`` runs it in the background (asyncio tasks / threads);
    ``worker.run()`` blocks until ``stop()``; ``with`` starts and stops it.
    Built by ``scheduler.worker(handlers={...})``.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        handlers: Mapping[str, Handler] | None = None,
        *,
        worker_id: str | None = None,
        commands: bool = True,
        session_ttl: int | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self._scheduler = scheduler
        self._client = scheduler.client
        self._keys = scheduler.keys
        self._clock = scheduler.clock
        self._handlers: dict[str, Handler] = dict(scheduler._handlers)
        for name, handler in (handlers or {}).items():
            scheduler._check_handler_callable(name, handler)
            self._handlers[name] = handler
        self._inline = {  # handlers called in the run's own task (plain functions, asyncio)
            name
            for name, handler in self._handlers.items()
            if backend.IS_ASYNC and not inspect.iscoroutinefunction(handler)
        }
        self.id = check_worker_id(worker_id or _default_worker_id())
        self._who = Worker(self.id, json.dumps(self.id))
        self._commands = commands
        self._session_ttl = session_ttl or scheduler.session_ttl
        self._start_timeout = start_timeout
        self._op_timeout = scheduler.op_timeout
        self._jobs: dict[str, _JobState] = {}
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._nonce_base = secrets.token_hex(6)
        self._nonces = itertools.count()
        self._generations = itertools.count(1)
        self._inbox: backend.Queue[tuple[str, Any]] = backend.Queue()
        self._finishes: backend.Queue[Finish] = backend.Queue()
        self._runs: dict[str, Run] = {}
        self._tasks: set[backend.Task] = set()
        self._watchers: list[Any] = []
        self._session: Session | None = None
        self._claiming = False
        self._stopping = False
        self._started = False
        self._ready = backend.Event()
        self._stopped = backend.Event()
        self._supervisor_wake = backend.Event()
        self._claims_lease: Lease | None = None
        self._claims_lease_renew_at = 0.0
        self._claims_lock = backend.Lock()
        self._lost = LostRuns(
            self._client,
            self._keys,
            worker_id=self.id,
            op_timeout=self._op_timeout,
            clock=self._clock,
            spec_of=lambda name: state.spec if (state := self._jobs.get(name)) else None,
            stopping=lambda: self._stopping,
        )
        self.stats: dict[str, int] = {
            "claims": 0,
            "won": 0,
            "runs": 0,
            "missed": 0,
            "skipped": 0,
            "requests": 0,
        }
        """Counters: claim transactions sent, won, runs executed, ticks recorded as missed,
        ticks skipped (overlap), etcd requests made for ticks."""

    def __repr__(self) -> str:
        state = "stopped" if self._stopped.is_set() else "claiming" if self._claiming else "idle"
        return f"<{type(self).__name__} {self.id} {state} jobs={len(self._jobs)}>"

    @property
    def claiming(self) -> bool:
        """True while the worker has a live session and claims ticks."""
        return self._claiming

    @property
    def handlers(self) -> tuple[str, ...]:
        """The handler names this worker can run."""
        return tuple(sorted(self._handlers))

    @property
    def running_runs(self) -> list[JobContext]:
        """The runs this worker executes now."""
        return [run.ctx for run in list(self._runs.values())]

    def next_fire(self, name: str) -> datetime | None:
        """When this worker will next claim job ``name`` (None if it does not run it)."""
        for entry in list(self._heap):
            state = self._jobs.get(entry.name)
            current = state is not None and state.generation == entry.generation
            if entry.kind == "tick" and entry.name == name and current:
                return entry.tick
        return None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SchedulerWorker:
        """Load the jobs, open the watches, register, and start claiming (in the background).

        Waits (at most ``start_timeout``) until the worker is registered; raises the last
        error (or EtcdTimeoutError) and stops if it could not be.
        """
        if self._started:
            return self
        self._started = True
        try:
            self._scheduler.publish()
            revision = self._load()
        except BaseException:
            self._stopped.set()
            raise
        for start, end in self._keys.quiet_ranges():
            self._spawn(self._watch, start, end, revision + 1, name="etcd-scheduler-watch")
        self._spawn(self._supervise, name="etcd-scheduler-session")
        self._spawn(self._loop, name="etcd-scheduler-loop")
        self._spawn(self._finisher, name="etcd-scheduler-finisher")
        if not backend.wait_event(self._ready, self._start_timeout):
            self.stop()
            raise EtcdTimeoutError(
                f"scheduler worker {self.id} could not register within {self._start_timeout}s"
            )
        return self

    def run(self, timeout: float | None = None) -> None:
        """Start (if needed) and block until ``stop()`` is called (or ``timeout`` passes, then
        stop)."""
        self.start()
        if not backend.wait_event(self._stopped, timeout):
            self.stop()

    def stop(self, *, drain: float = 10.0) -> None:
        """Stop claiming, wait up to ``drain`` seconds for runs in progress, kill the rest
        (recorded as killed), close the watches and revoke the session (idempotent)."""
        if self._stopping:
            backend.wait_event(self._stopped, drain + self._scheduler.kill_grace + 5)
            return
        self._stopping = True
        self._claiming = False
        self._inbox.put(("stop", None))
        deadline = backend.monotonic() + drain
        log.debug("worker %s: stopping; runs in progress: %s", self.id, list(self._runs))
        while self._runs and backend.monotonic() < deadline:
            backend.sleep(0.02)
        log.debug("worker %s: drained; runs in progress: %s", self.id, list(self._runs))
        for run in list(self._runs.values()):
            run.cancel(RunOutcome.KILLED, "the worker is stopping")
        deadline = backend.monotonic() + self._scheduler.kill_grace + 2
        while self._runs and backend.monotonic() < deadline:
            backend.sleep(0.02)
        for watcher in list(self._watchers):
            watcher.cancel()
        self._supervisor_wake.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            task.join(2.0)
        log.debug("worker %s: tasks joined; closing the session", self.id)
        session, self._session = self._session, None
        if session is not None:
            try:
                if not session.lost and not self._runs:  # nothing left to record as lost
                    marker = self._keys.session(self.id, session.lease_id)
                    self._client.delete(marker, timeout=self._op_timeout)
                session.close()
            except EtcdError as error:
                log.info("worker %s: closing its session failed: %s", self.id, error)
        self._stopped.set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until the worker has stopped; True if it has."""
        return backend.wait_event(self._stopped, timeout)

    def __enter__(self) -> SchedulerWorker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, func: Callable[..., Any], *args: Any, name: str) -> None:
        box: list[backend.Task] = []

        def wrapper() -> None:
            try:
                func(*args)
            except Exception:
                if not self._stopping:
                    log.exception("worker %s: %s failed", self.id, name)
            finally:
                if box:
                    self._tasks.discard(box[0])

        task = backend.spawn(wrapper, name=name)
        box.append(task)
        if not task.done():
            self._tasks.add(task)

    # -- loading and watching ------------------------------------------------------------------

    def _load(self) -> int:
        """Read every definition and pending trigger (one txn); queue them; the revision."""
        ranges = self._keys.quiet_ranges()
        ops = [Op.get(start, range_end=end) for start, end in ranges]
        response = self._client.txn(timeout=self._op_timeout).then(*ops).commit()
        for (start, end), result in zip(ranges, response.responses, strict=True):
            assert isinstance(result, GetResponse)
            self._inbox.put(("snapshot", (start, end, result.kvs)))
        return response.header.revision

    def _watch(self, start: bytes, end: bytes, revision: int) -> None:
        next_revision = revision
        backoff = 0.1
        while not self._stopping:
            watcher = self._client.watch(start, range_end=end, start_revision=next_revision)
            self._watchers.append(watcher)
            try:
                for response in watcher:
                    backoff = 0.1
                    for event in response.events:
                        self._inbox.put(("event", event))
            except CompactedError:
                log.warning("worker %s: watch revision compacted; reloading", self.id)
                try:
                    got = self._client.get(start, range_end=end, timeout=self._op_timeout)
                except EtcdError as error:
                    log.info("worker %s: reload failed: %s", self.id, error)
                    backend.sleep(backoff)
                    continue
                self._inbox.put(("snapshot", (start, end, got.kvs)))
                watcher.next_revision = got.header.revision + 1
            except EtcdError as error:
                if self._stopping:
                    break
                log.info("worker %s: watch failed (%s); resuming", self.id, error)
                backend.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)
                next_revision = max(next_revision, watcher.next_revision)

    # -- session --------------------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = 0.1
        while not self._stopping:
            session = Session(self._client, self._session_ttl)
            try:
                session.start()
                value = {
                    "id": self.id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started": self._clock(),
                    "handlers": sorted(self._handlers),
                    "commands": self._commands,
                }
                # The registration and, without a lease, the session's marker: whoever finds
                # the marker without its registration records the session's runs as lost.
                (
                    self._client.txn(timeout=self._op_timeout)
                    .then(
                        Op.put(
                            self._keys.worker(self.id, session.lease_id),
                            encode_json(value),
                            lease=session.lease,
                        ),
                        Op.put(self._keys.session(self.id, session.lease_id), b""),
                    )
                    .commit()
                )
            except EtcdError as error:
                log.info("worker %s: no session yet (%s); retrying", self.id, error)
                try:
                    session.close()
                except EtcdError:
                    pass
                backend.wait_event(self._supervisor_wake, backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            self._supervisor_wake.clear()
            session.add_lost_callback(lambda _s: self._supervisor_wake.set())
            self._session = session
            self._inbox.put(("session", session))
            self._ready.set()
            while not self._stopping and not session.lost:
                backend.wait_event(self._supervisor_wake, 1.0)
            if session.lost and self._session is session:
                log.warning("worker %s: session lost; claiming stops until a new one", self.id)
                self._claiming = False
                for run in list(self._runs.values()):
                    run.cancel(RunOutcome.LOST, "the worker lost its session")
                self._inbox.put(("session", None))

    # -- the loop: owns the job table and the timer heap ---------------------------------------

    def _loop(self) -> None:
        while not self._stopping:
            item = self._inbox.get_nowait()
            if item is None:
                delay = _MAX_SLEEP
                if self._claiming and self._heap:
                    delay = min(delay, self._heap[0].due - self._clock())
                if delay > 0:
                    try:
                        item = self._inbox.get(delay)
                    except TimeoutError:
                        item = None
            if item is not None:
                self._handle(*item)
                continue
            if self._claiming:
                self._pop_due()

    def _handle(self, what: str, payload: Any) -> None:
        if what == "event":
            self._on_event(payload)
        elif what == "snapshot":
            self._on_snapshot(*payload)
        elif what == "session":
            self._claiming = payload is not None and not self._stopping
            if self._claiming:  # after the snapshot: reap() sees the jobs' retry policies
                self._spawn(self._lost.recover, name="etcd-scheduler-recover")

    def _on_snapshot(self, start: bytes, end: bytes, kvs: Any) -> None:
        seen = set()
        for kv in kvs:
            kind, name, rest = self._keys.split(kv.key)
            if kind == "job":
                seen.add(name)
                self._set_job(name, kv.value)
            elif kind == "triggers" and rest:
                self._queue_trigger(name, rest, kv.value)
        for name in list(self._jobs):
            key = self._keys.job(name).encode()
            if start <= key < end and name not in seen:
                self._jobs.pop(name, None)

    def _on_event(self, event: Event) -> None:
        kind, name, rest = self._keys.split(event.key)
        put = event.type is EventType.PUT
        if kind == "job":
            if put:
                self._set_job(name, event.value)
            else:
                self._jobs.pop(name, None)
        elif kind == "kill" and put:
            for run in list(self._runs.values()):
                if run.ctx.job == name and run.ctx.token < event.kv.mod_revision:
                    run.cancel(RunOutcome.KILLED, f"killed at revision {event.kv.mod_revision}")
        elif kind == "triggers" and put and rest and event.kv.version == 1:
            self._queue_trigger(name, rest, event.value)
        elif kind == "workers" and not put:
            self._spawn(self._lost.reap, event, name="etcd-scheduler-reap")

    def _runnable(self, spec: JobSpec) -> bool:
        if spec.handler is not None:
            return spec.handler in self._handlers
        return self._commands

    def _set_job(self, name: str, raw: bytes) -> None:
        try:
            spec = JobSpec.from_json(raw, name=name)
            schedule = sched.Schedule.parse(spec.schedule, spec.timezone)
            tz = sched.timezone_for(spec.timezone)
        except InvalidArgumentError as error:
            log.warning("worker %s: ignoring job %s: %s", self.id, name, error)
            self._jobs.pop(name, None)
            return
        old = self._jobs.get(name)
        state = _JobState(spec, schedule, tz, next(self._generations))
        state.last_tick = old.last_tick if old else None
        self._jobs[name] = state
        if self._runnable(spec) and not spec.paused:
            self._schedule(state, max(sched.to_datetime(self._clock()), state.last_tick or _EPOCH))

    def _schedule(self, state: _JobState, after: datetime, tick: datetime | None = None) -> None:
        """Queue the job's first tick after ``after`` (``tick``, when already known)."""
        if tick is None:
            tick = state.schedule.next_after(after, state.tz)
        if tick is None:
            return
        name = state.spec.name
        run_id = sched.tick_id(tick)
        due = tick.timestamp() + sched.jitter_delay(name, run_id, state.spec.jitter)
        entry = _Entry(due, next(self._seq), "tick", name, state.generation, tick, run_id)
        heapq.heappush(self._heap, entry)

    def _queue_trigger(self, name: str, run_id: str, raw: bytes) -> None:
        try:
            data = json.loads(raw)
            attempt = int(data.get("attempt", 1))
            not_before = float(data.get("not_before") or 0.0)
            kind = str(data.get("kind", "manual"))
        except (ValueError, TypeError, AttributeError):
            log.warning("worker %s: ignoring malformed trigger %s/%s", self.id, name, run_id)
            return
        entry = _Entry(not_before, next(self._seq), "trigger", name, 0, None, run_id, attempt, kind)
        entry.wait_until = self._clock() + 5.0
        heapq.heappush(self._heap, entry)

    def _pop_due(self) -> None:
        now = self._clock()
        fires: list[Fire] = []
        while self._heap and self._heap[0].due <= now:
            entry = heapq.heappop(self._heap)
            state = self._jobs.get(entry.name)
            if state is None and entry.kind == "trigger" and now < entry.wait_until:
                entry.due = now + 0.2  # its job's definition may arrive on another watch
                heapq.heappush(self._heap, entry)
                continue
            if state is None or not self._runnable(state.spec):
                continue
            if entry.kind == "trigger":
                try:
                    tick: datetime | None = sched.tick_time(entry.run_id)
                except ValueError:
                    tick = None
                fire = Fire(state.spec, entry.run_id, tick, entry.run_kind, entry.attempt)
                fires.append(fire)
            elif entry.generation == state.generation and entry.tick is not None:
                fires += self._due_tick(state, entry, now)
        for fire in fires:
            fire.created = now
            fire.nonce = f"{self._nonce_base}.{next(self._nonces)}"
        # One claim per job per transaction (two ticks of one job must be decided in order);
        # up to _BATCH claims, each its own nested transaction, per request.
        rounds: list[list[Fire]] = []
        depth: dict[str, int] = {}
        for fire in fires:
            if fire.miss:
                self._spawn(self._record_missed, fire.spec, fire.run_id, fire.tick, name="miss")
                continue
            level = depth.get(fire.spec.name, 0)
            depth[fire.spec.name] = level + 1
            if level == len(rounds):
                rounds.append([])
            rounds[level].append(fire)
        if len(rounds) == 1:
            for i in range(0, len(rounds[0]), _BATCH):
                self._spawn(self._fire_rounds, [rounds[0][i : i + _BATCH]], name="claim")
        elif rounds:
            batches = [r[i : i + _BATCH] for r in rounds for i in range(0, len(r), _BATCH)]
            self._spawn(self._fire_rounds, batches, name="claim")

    def _due_tick(self, state: _JobState, entry: _Entry, now: float) -> list[Fire]:
        spec, first = state.spec, entry.tick
        assert first is not None
        now_dt = sched.to_datetime(now)
        backlog, following = state.schedule.ticks_and_next(
            first, now_dt, state.tz, limit=spec.history_limit
        )
        if backlog or spec.jitter or spec.misfire_grace < now - first.timestamp():
            ticks = [first, *backlog][-(spec.history_limit + 1) :]

            def delay(tick: datetime) -> float:
                return sched.jitter_delay(spec.name, sched.tick_id(tick), spec.jitter)

            plan = sched.plan_due(ticks, now_dt, spec.misfire, spec.misfire_grace, delay)
            fires = [
                Fire(spec, sched.tick_id(tick), tick, miss=action == sched.MISS)
                for tick, action in plan
            ]
        else:  # the common case: one tick, on time
            ticks = [first]
            fires = [Fire(spec, entry.run_id, first)]
        state.last_tick = ticks[-1]
        self._schedule(state, ticks[-1], following)
        return fires

    # -- claiming -------------------------------------------------------------------------------

    def _claims_lease_id(self) -> int:
        """A lease for claims (TTL ``claim_ttl``, never kept alive; renewed at half-life)."""
        with self._claims_lock:
            now = backend.monotonic()
            if self._claims_lease is None or now >= self._claims_lease_renew_at:
                ttl = self._scheduler.claim_ttl
                self._claims_lease = self._client.lease.grant(ttl, timeout=self._op_timeout)
                self._claims_lease_renew_at = now + ttl / 2
            return self._claims_lease.id

    def _fire_rounds(self, batches: list[list[Fire]]) -> None:
        for batch in batches:
            for fire, claim in zip(batch, self._claim(batch), strict=True):
                if claim is not None:
                    self._start(fire.spec, claim)

    def _give_up_at(self, fire: Fire) -> float:
        spec = fire.spec
        if fire.tick is not None and fire.kind == "scheduled":
            jitter = sched.jitter_delay(spec.name, fire.run_id, spec.jitter)
            return fire.tick.timestamp() + jitter + spec.misfire_grace
        return fire.created + max(spec.misfire_grace, 30.0)

    def _claim(self, fires: list[Fire]) -> list[Claim | None]:
        """Claim the ticks of ``fires`` (distinct jobs): one request, one nested transaction
        per tick when there are several. Retried on errors until each tick's misfire grace
        passes (then the tick is recorded as missed)."""
        results: list[Claim | None] = [None] * len(fires)
        pending = list(range(len(fires)))
        backoff = 0.05
        conn = self._client._conn
        keys, who = self._keys, self._who
        while pending:
            session = self._session
            if self._stopping or not self._claiming or session is None or session.lost:
                return results
            started = self._clock()
            try:
                claims_lease = self._claims_lease_id()
                session_lease = session.lease_id
                request = rpc_pb2.TxnRequest()
                if len(pending) == 1:
                    claim_into(
                        request, fires[pending[0]], keys, who, session_lease, claims_lease, started
                    )
                else:
                    nested = request.success
                    for i in pending:
                        txn = nested.add().request_txn
                        claim_into(txn, fires[i], keys, who, session_lease, claims_lease, started)
                self.stats["claims"] += len(pending)
                self.stats["requests"] += 1
                response = conn.unary(conn.kv.Txn, request, self._op_timeout, True, "txn")
                answers: Any = (
                    [response]
                    if len(pending) == 1
                    else [op.response_txn for op in response.responses]
                )
            except LeaseNotFoundError:
                self._claims_lease = None  # expired or the session's: the supervisor will see
            except EtcdError as error:
                closed = isinstance(error, ClientClosedError)
                now = self._clock()
                for i in list(pending):
                    if closed or now > self._give_up_at(fires[i]):
                        pending.remove(i)
                        name, run_id = fires[i].spec.name, fires[i].run_id
                        log.info(
                            "worker %s: could not claim %s/%s: %s", self.id, name, run_id, error
                        )
                        if fires[i].kind == "scheduled" and not closed:
                            self._spawn(
                                self._record_missed,
                                fires[i].spec,
                                run_id,
                                fires[i].tick,
                                name="miss",
                            )
            else:
                revision = response.header.revision
                for i, answer in zip(pending, answers, strict=True):
                    results[i] = self._claim_result(fires[i], answer, revision, started)
                return results
            backend.sleep(backoff)
            backoff = min(backoff * 2, 0.5)
        return results

    def _claim_result(
        self, fire: Fire, response: rpc_pb2.TxnResponse, revision: int, started: float
    ) -> Claim | None:
        """Read one claim's answer off the wire message (only the fields needed)."""
        if response.succeeded:
            token = revision
            if fire.spec.overlap == "forbid" and not response.responses[0].response_txn.succeeded:
                self.stats["skipped"] += 1  # overlap=forbid: recorded as skipped in the txn
                return None
        else:
            kvs = response.responses[0].response_range.kvs if response.responses else ()
            if not kvs:
                return None
            kv = kvs[0]
            try:
                mine = json.loads(kv.value)
            except ValueError:
                return None
            if mine.get("nonce") != fire.nonce or mine.get("state") != "run":
                return None  # another worker's claim (or our own skip, already recorded)
            token = kv.create_revision  # our earlier attempt was applied after all
        self.stats["won"] += 1
        return Claim(fire.run_id, fire.tick, token, fire.attempt, fire.kind, started)

    def _record_missed(self, spec: JobSpec, run_id: str, tick: datetime | None) -> None:
        keys = self._keys
        record = RunRecord(
            spec.name,
            run_id,
            tick,
            RunOutcome.MISSED,
            worker=self.id,
            ended=self._clock(),
            error=f"not started within misfire_grace={spec.misfire_grace}s of its tick",
        )
        run_key = keys.run(spec.name, run_id)
        for _ in range(3):
            try:
                claims_lease = self._claims_lease_id()
                self.stats["requests"] += 1
                response = (
                    self._client.txn(timeout=self._op_timeout)
                    .if_(Compare.create_revision(run_key) == 0)
                    .then(
                        Op.put(
                            run_key,
                            encode_json({"worker": self.id, "state": "missed"}),
                            lease=claims_lease,
                        ),
                        Op.put(keys.record(spec.name, run_id), record.to_json()),
                    )
                    .commit()
                )
            except LeaseNotFoundError:
                self._claims_lease = None
                continue
            except EtcdError as error:
                log.info(
                    "worker %s: could not record %s/%s as missed: %s",
                    self.id,
                    spec.name,
                    run_id,
                    error,
                )
                backend.sleep(0.2)
                continue
            if response.succeeded:
                self.stats["missed"] += 1
            return

    # -- running --------------------------------------------------------------------------------

    def _start(self, spec: JobSpec, claim: Claim) -> None:
        """Run a won claim: in its own task; a plain function handler (asyncio) right here.

        A plain function blocks the event loop wherever it is called, so nothing could time it
        out or interrupt it meanwhile: calling it without a task of its own changes nothing
        but the cost. (Threads: every run has its own thread, see ``_inline``.)
        """
        ctx = JobContext(
            self._client,
            spec,
            claim.run_id,
            claim.tick,
            claim.token,
            claim.attempt,
            claim.kind,
            self.id,
            self._keys.running_run(spec.name, claim.run_id),
        )
        run = Run(ctx)
        key = f"{spec.name}/{claim.run_id}"
        self._runs[key] = run  # until the finisher has written the record
        self.stats["runs"] += 1
        pending: Any = None
        if spec.handler in self._inline:
            started = self._clock()
            try:
                pending = self._handlers[spec.handler](ctx)
            except BaseException as error:
                run.error = error
            if not inspect.isawaitable(pending):
                try:
                    run.result = pending
                    output = None if pending is None else truncate(repr(pending), OUTPUT_LIMIT)
                    self._finished(spec, claim, run, key, started, None, output)
                except Exception:  # as a run's own task would: logged, the run left unrecorded
                    log.exception("worker %s: run %s failed", self.id, key)
                    self._runs.pop(key, None)
                return
        self._spawn(self._execute, spec, claim, run, key, pending, name=f"job-{spec.name}")

    def _execute(self, spec: JobSpec, claim: Claim, run: Run, key: str, pending: Any) -> None:
        queued = False
        try:
            started = self._clock()
            if spec.command is not None:
                exit_code, output = run_command(run, self._scheduler.kill_grace, self.id)
            else:
                assert spec.handler is not None
                handler = self._handlers[spec.handler]
                grace = self._scheduler.kill_grace
                exit_code, output = run_handler(run, handler, pending, grace, self.id)
            self._finished(spec, claim, run, key, started, exit_code, output)
            queued = True
        finally:
            if not queued:
                self._runs.pop(key, None)

    def _finished(
        self,
        spec: JobSpec,
        claim: Claim,
        run: Run,
        key: str,
        started: float,
        exit_code: int | None,
        output: str | None,
    ) -> None:
        """Queue the run's record for the finisher (which batches records due together, and
        drops the run from ``_runs`` once it is written: a stopping worker waits for both)."""
        if run.outcome is not None:
            outcome, error = run.outcome, run.detail
        elif run.error is not None:
            outcome = RunOutcome.FAILED
            error = "".join(traceback.format_exception_only(type(run.error), run.error)).strip()
            tb = "".join(traceback.format_exception(run.error))
            output = truncate(tb) if output is None else output
        elif exit_code not in (None, 0):
            outcome, error = RunOutcome.FAILED, f"exit code {exit_code}"
        else:
            outcome, error = RunOutcome.OK, None
        record = RunRecord(
            spec.name,
            claim.run_id,
            claim.tick,
            outcome,
            claim.kind,
            claim.attempt,
            self.id,
            claim.token,
            started,
            self._clock(),
            exit_code,
            error,
            output,
        )
        self._finishes.put(Finish(spec, claim, record, key))

    def _finisher(self) -> None:
        while not (self._stopping and not self._runs and self._finishes.qsize() == 0):
            try:
                first = self._finishes.get(_MAX_SLEEP)
            except TimeoutError:
                continue
            batch = [first]
            while len(batch) < _BATCH and (more := self._finishes.get_nowait()) is not None:
                batch.append(more)
            try:
                self._commit_finishes(batch)
            finally:
                for item in batch:
                    self._runs.pop(item.key, None)

    def _commit_finishes(self, batch: list[Finish]) -> None:
        """One request for the batch (a nested transaction per run). Runs whose in-progress
        key is gone (the session was lost) get their record only if nobody wrote one."""
        deadline = backend.monotonic() + _FINISH_BUDGET
        conn = self._client._conn
        while True:
            try:
                self.stats["requests"] += 1
                request = rpc_pb2.TxnRequest()
                if len(batch) == 1:
                    finish_into(request, batch[0], self._keys, self._clock())
                else:
                    nested, now = request.success, self._clock()
                    for item in batch:
                        finish_into(nested.add().request_txn, item, self._keys, now)
                response = conn.unary(conn.kv.Txn, request, self._op_timeout, True, "txn")
                answers: Any = (
                    [response]
                    if len(batch) == 1
                    else [op.response_txn for op in response.responses]
                )
                break
            except EtcdError as error:
                if backend.monotonic() > deadline or self._client.closed:
                    log.error("worker %s: could not record %d runs: %s", self.id, len(batch), error)
                    return
                backend.sleep(0.2)
        counts: dict[str, tuple[JobSpec, int]] = {}
        for item, answer in zip(batch, answers, strict=True):
            if not answer.succeeded:
                self._finish_late(item)
                continue
            counts[item.spec.name] = (item.spec, answer.responses[-1].response_range.count)
        due = [
            (name, spec.history_limit)
            for name, (spec, count) in counts.items()
            if count >= spec.history_limit + max(1, spec.history_limit // 4)
        ]
        if due:
            self._spawn(self._prune, due, name="prune")

    def _finish_late(self, item: Finish) -> None:
        note = "the worker's session ended before the record was written"
        record = item.record
        late = replace(record, error=f"{record.error}; {note}" if record.error else note)
        record_key = self._keys.record(item.spec.name, item.claim.run_id)
        claim, now = item.claim, self._clock()
        extra = retry_ops(self._keys, item.spec, claim.run_id, claim.attempt, record, now)
        deadline = backend.monotonic() + _FINISH_BUDGET
        while True:
            try:
                self.stats["requests"] += 1
                (
                    self._client.txn(timeout=self._op_timeout)
                    .if_(Compare.create_revision(record_key) == 0)
                    .then(Op.put(record_key, late.to_json()), *extra)
                    .commit()
                )
                return
            except EtcdError as error:
                if backend.monotonic() > deadline or self._client.closed:
                    log.error("worker %s: could not record %s: %s", self.id, record_key, error)
                    return
                backend.sleep(0.2)

    def _prune(self, due: list[tuple[str, int]]) -> None:
        """Delete the oldest records of each ``(job, limit)`` in ``due`` down to its limit: two
        requests per 64 jobs (read the record keys, then delete up to the cut-off keys).

        The cut-off is computed from a fresh read, and deleting up to a given key twice deletes
        nothing more: prunes that overlap (records finishing meanwhile) never cut too deep.
        """
        try:
            for i in range(0, len(due), _BATCH):
                chunk = due[i : i + _BATCH]
                prefixes = [self._keys.history(name) for name, _ in chunk]
                reads = [
                    Op.get(
                        prefix,
                        prefix=True,
                        keys_only=True,
                        sort_order=SortOrder.ASCEND,
                        sort_target=SortTarget.KEY,
                    )
                    for prefix in prefixes
                ]
                self.stats["requests"] += 1
                got = self._client.txn(timeout=self._op_timeout).then(*reads).commit()
                deletes = []
                for prefix, (_, limit), keys in zip(prefixes, chunk, got.responses, strict=True):
                    assert isinstance(keys, GetResponse)
                    excess = len(keys.kvs) - limit
                    if excess > 0:
                        end = keys.kvs[excess - 1].key + b"\0"
                        deletes.append(Op.delete(prefix, range_end=end))
                if deletes:
                    self.stats["requests"] += 1
                    self._client.txn(timeout=self._op_timeout).then(*deletes).commit()
                log.debug("worker %s: pruned the history of %d jobs", self.id, len(deletes))
        except EtcdError as error:
            log.info("worker %s: pruning history failed: %s", self.id, error)


_EPOCH = sched.to_datetime(0)
