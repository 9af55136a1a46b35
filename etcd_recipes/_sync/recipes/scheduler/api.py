# GENERATED from etcd_recipes/_async/recipes/scheduler/api.py by scripts/unasync.py -- do not edit.
"""The scheduler's management API: define, change and inspect jobs from any process."""

from __future__ import annotations

import inspect
import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ...._core import schedule as sched
from ...._core.jobs import (
    JobExistsError,
    JobKeys,
    JobNotFoundError,
    JobSpec,
    JobStatus,
    RunningRun,
    RunRecord,
    SchedulerError,
    UnknownHandlerError,
    WorkerInfo,
)
from ...._core.ops import Compare, Op, SortOrder, SortTarget
from ...._core.types import GetResponse, KeyValue
from ...._exceptions import EtcdTimeoutError, InvalidArgumentError
from ... import _backend as backend
from .worker import Handler, SchedulerWorker

if TYPE_CHECKING:
    from ...client import Client

log = logging.getLogger("etcd_recipes.scheduler")

F = TypeVar("F", bound=Callable[..., Any])

_TXN_OPS = 64  # reads per transaction when reading many jobs (etcd's default max is 128)


class Scheduler:
    """A distributed cron scheduler whose jobs live under ``prefix`` (``client.scheduler()``).

    Management verbs work from any process (no worker needed): ``add_job``, ``update_job``,
    ``remove_job``, ``pause``, ``resume``, ``trigger``, ``kill``, ``jobs``, ``history``,
    ``running``, ``workers``, ``status``. ``worker(handlers=...)`` builds a worker;
    ``@scheduler.job(name, cron=...)`` registers a handler and its job.

    Options: ``clock`` (Unix time source, default ``time.time``; inject one to simulate skew or
    a date), ``op_timeout`` (seconds per etcd request made by workers), ``claim_ttl`` (seconds a
    tick's claim is kept: it must outlast any clock skew plus the misfire grace, default 1 h),
    ``kill_ttl`` (lease of a kill request), ``kill_grace`` (seconds between terminate and kill,
    and before a worker stops waiting for a cancelled handler), ``session_ttl`` (workers'
    session lease).
    """

    def __init__(
        self,
        client: Client,
        prefix: str = "/job/",
        *,
        clock: sched.Clock | None = None,
        op_timeout: float = 2.0,
        claim_ttl: int = 3600,
        kill_ttl: int = 10,
        kill_grace: float = 5.0,
        session_ttl: int = 10,
    ) -> None:
        self.client = client
        self.keys = JobKeys(prefix)
        self.prefix = prefix
        self.clock: sched.Clock = clock or sched.system_clock
        for name, value in (("claim_ttl", claim_ttl), ("kill_ttl", kill_ttl)):
            if not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive int, not {value!r}")
        if op_timeout <= 0 or kill_grace < 0:
            raise InvalidArgumentError("op_timeout must be > 0 and kill_grace >= 0")
        self.op_timeout = op_timeout
        self.claim_ttl = claim_ttl
        self.kill_ttl = kill_ttl
        self.kill_grace = kill_grace
        self.session_ttl = session_ttl
        self._handlers: dict[str, Handler] = {}
        self._pending: dict[str, JobSpec] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self.prefix!r}>"

    # -- handlers -------------------------------------------------------------------------------

    def _check_handler_callable(self, name: str, handler: Handler) -> None:
        if not callable(handler):
            raise InvalidArgumentError(f"handler {name!r} is not callable")
        if not backend.IS_ASYNC and inspect.iscoroutinefunction(handler):
            raise InvalidArgumentError(
                f"handler {name!r} is 'def': use Scheduler, or a plain function"
            )

    def register(self, name: str, handler: Handler) -> None:
        """Register ``handler`` under ``name`` for workers built by this scheduler."""
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("a handler name must be a non-empty string")
        self._check_handler_callable(name, handler)
        self._handlers[name] = handler

    def job(
        self, name: str, cron: str | None = None, *, schedule: str | None = None, **options: Any
    ) -> Callable[[F], F]:
        """Decorator: register the function as handler ``name`` and define job ``name``::

            @scheduler.job("cleanup", cron="*/5 * * * * *", timezone="Europe/Riga")
            def cleanup(ctx): ...

        The definition is checked now and written (created or updated) when a worker of this
        scheduler starts, or by ``publish()``. ``options`` are ``JobSpec`` fields.
        """
        expression = cron if cron is not None else schedule
        if expression is None:
            raise InvalidArgumentError("give cron= (or schedule=)")
        spec = JobSpec(name=name, schedule=expression, handler=name, **options)

        def decorate(func: F) -> F:
            self.register(name, func)
            self._pending[name] = spec
            return func

        return decorate

    def publish(self) -> None:
        """Write the definitions made by ``@job`` that differ from what is stored."""
        for name, spec in list(self._pending.items()):
            got = self.client.get(self.keys.job(name))
            if got.value is None or not _same_spec(got.value, spec):
                self.client.put(self.keys.job(name), spec.to_json())
            self._pending.pop(name, None)

    def _check_handler(self, spec: JobSpec) -> None:
        if spec.handler is None or spec.handler in self._handlers:
            return
        known = {h for worker in self.workers() for h in worker.handlers}
        if spec.handler not in known:
            raise UnknownHandlerError(
                f"job {spec.name!r}: no handler named {spec.handler!r} is registered in this "
                f"process or by a live worker (known: {', '.join(sorted(known)) or 'none'}); "
                "register it, or pass check_handler=False"
            )

    # -- writing --------------------------------------------------------------------------------

    def add_job(self, spec: JobSpec, *, replace: bool = False, check_handler: bool = True) -> int:
        """Store a job definition; returns its revision. JobExistsError if the name is taken
        (unless ``replace``); UnknownHandlerError if no one has its handler (unless
        ``check_handler=False``). Nothing is written when an error is raised."""
        if not isinstance(spec, JobSpec):
            raise InvalidArgumentError(f"add_job needs a JobSpec, not {type(spec).__name__}")
        if check_handler:
            self._check_handler(spec)
        key = self.keys.job(spec.name)
        if replace:
            return (self.client.put(key, spec.to_json())).header.revision
        response = (
            self.client.txn()
            .if_(Compare.create_revision(key) == 0)
            .then(Op.put(key, spec.to_json()))
            .commit()
        )
        if not response.succeeded:
            raise JobExistsError(f"job {spec.name!r} already exists")
        return response.header.revision

    def update_job(self, name: str, *, check_handler: bool = True, **changes: Any) -> JobSpec:
        """Change fields of job ``name`` (compare-and-swap on its revision, retried on a
        concurrent change); returns the new definition. Workers apply it at once."""
        if "name" in changes:
            raise InvalidArgumentError("a job cannot be renamed: add a new one and remove this")
        for _ in range(20):
            spec, revision = self._get(name)
            new = spec.replace(**changes)
            if check_handler and new.handler != spec.handler:
                self._check_handler(new)
            key = self.keys.job(name)
            response = (
                self.client.txn()
                .if_(Compare.mod_revision(key) == revision)
                .then(Op.put(key, new.to_json()))
                .commit()
            )
            if response.succeeded:
                return new
        raise SchedulerError(f"job {name!r} kept changing under update_job; try again")

    def remove_job(self, name: str, *, keep_history: bool = False) -> None:
        """Delete job ``name``'s definition and pending triggers (and its history unless
        ``keep_history``). Runs in progress finish; claims stay until their lease ends, so a
        job re-added under the same name cannot run an already-claimed tick again."""
        key = self.keys.job(name)
        ops = [Op.delete(key), Op.delete(self.keys.triggers(name), prefix=True)]
        if not keep_history:
            ops.append(Op.delete(self.keys.history(name), prefix=True))
        response = self.client.txn().if_(Compare.version(key) > 0).then(*ops).commit()
        if not response.succeeded:
            raise JobNotFoundError(f"no job named {name!r}")

    def pause(self, name: str) -> JobSpec:
        """Stop scheduling job ``name`` (ticks while paused are not run nor recorded)."""
        return self.update_job(name, paused=True, check_handler=False)

    def resume(self, name: str) -> JobSpec:
        """Schedule job ``name`` again, from the next tick after now."""
        return self.update_job(name, paused=False, check_handler=False)

    def trigger(self, name: str) -> str:
        """Ask for one run of job ``name`` now (even if paused); returns its run id. A worker
        with the handler claims it like a tick (the overlap policy applies)."""
        key = self.keys.job(name)
        run_id = sched.tick_id(sched.to_datetime(self.clock()), _nonce())
        value = json.dumps({"kind": "manual", "attempt": 1, "not_before": 0})
        response = (
            self.client.txn()
            .if_(Compare.version(key) > 0)
            .then(Op.put(self.keys.trigger(name, run_id), value))
            .commit()
        )
        if not response.succeeded:
            raise JobNotFoundError(f"no job named {name!r}")
        return run_id

    def kill(self, name: str) -> int:
        """Kill job ``name``'s runs in progress (everywhere): puts ``kill/<name>`` on a
        ``kill_ttl`` lease; workers cancel the runs older than it and record them as killed.
        Returns how many runs were in progress when the request was written."""
        lease = self.client.lease.grant(self.kill_ttl)
        response = (
            self.client.txn()
            .then(
                Op.put(self.keys.kill(name), json.dumps({"at": self.clock()}), lease=lease),
                Op.get(self.keys.running(name), prefix=True, count_only=True),
            )
            .commit()
        )
        got = response.responses[1]
        return got.count if isinstance(got, GetResponse) else 0

    # -- reading --------------------------------------------------------------------------------

    def _get(self, name: str) -> tuple[JobSpec, int]:
        got = self.client.get(self.keys.job(name))
        if got.kv is None:
            raise JobNotFoundError(f"no job named {name!r}")
        return JobSpec.from_json(got.kv.value, name=name), got.kv.mod_revision

    def get_job(self, name: str) -> JobSpec:
        """Job ``name``'s definition; JobNotFoundError if there is none."""
        return (self._get(name))[0]

    def _job_kvs(self) -> list[KeyValue]:
        ranges = self.keys.definition_ranges()
        ops = [Op.get(start, range_end=end) for start, end in ranges]
        response = self.client.txn().then(*ops).commit()
        return [kv for r in response.responses if isinstance(r, GetResponse) for kv in r.kvs]

    def jobs(self) -> list[JobSpec]:
        """Every job definition, by name (malformed stored ones are skipped and logged)."""
        found = []
        for kv in self._job_kvs():
            name = kv.key.decode()[len(self.prefix) :]
            try:
                found.append(JobSpec.from_json(kv.value, name=name))
            except InvalidArgumentError as error:
                log.warning("skipping malformed job %s: %s", name, error)
        return found

    def history(self, name: str, *, limit: int | None = None) -> list[RunRecord]:
        """Job ``name``'s run records, oldest first (the last ``limit`` if given)."""
        options: dict[str, Any] = {}
        if limit is not None:
            options = {
                "limit": limit,
                "sort_order": SortOrder.DESCEND,
                "sort_target": SortTarget.KEY,
            }
        got = self.client.get(self.keys.history(name), prefix=True, **options)
        records = [RunRecord.from_json(kv.value, revision=kv.mod_revision) for kv in got.kvs]
        return sorted(records, key=lambda r: r.run_id)

    def running(self, name: str | None = None) -> list[RunningRun]:
        """The runs in progress (of job ``name``, or of every job)."""
        got = self.client.get(self.keys.running(name), prefix=True)
        return [r for kv in got.kvs if (r := _running(self.keys, kv)) is not None]

    def workers(self) -> list[WorkerInfo]:
        """The live workers."""
        got = self.client.get(self.keys.workers(), prefix=True)
        found = []
        for kv in got.kvs:
            try:
                data = json.loads(kv.value)
                found.append(
                    WorkerInfo(
                        str(data["id"]),
                        kv.lease,
                        str(data.get("host", "")),
                        int(data.get("pid", 0)),
                        float(data.get("started", 0.0)),
                        tuple(data.get("handlers", ())),
                        bool(data.get("commands", True)),
                    )
                )
            except (ValueError, TypeError, KeyError):
                continue
        return found

    def next_fire_time(self, spec: JobSpec, after: float | None = None) -> datetime | None:
        """When ``spec`` next fires after ``after`` (a Unix time; default: the clock's now)."""
        schedule = sched.Schedule.parse(spec.schedule, spec.timezone)
        now = self.clock() if after is None else after
        return sched.next_fire(schedule, sched.timezone_for(spec.timezone), now)

    def status(self) -> list[JobStatus]:
        """Every job with its next fire time, last record and runs in progress."""
        kvs = self._job_kvs()
        running = self.running()
        result = []
        for start in range(0, len(kvs), _TXN_OPS):
            chunk = kvs[start : start + _TXN_OPS]
            names = [kv.key.decode()[len(self.prefix) :] for kv in chunk]
            ops = [
                Op.get(
                    self.keys.history(name),
                    prefix=True,
                    limit=1,
                    sort_order=SortOrder.DESCEND,
                    sort_target=SortTarget.KEY,
                )
                for name in names
            ]
            response = self.client.txn().then(*ops).commit()
            for kv, name, last in zip(chunk, names, response.responses, strict=True):
                try:
                    spec = JobSpec.from_json(kv.value, name=name)
                except InvalidArgumentError:
                    continue
                record = None
                if isinstance(last, GetResponse) and last.kv is not None:
                    record = RunRecord.from_json(last.kv.value, revision=last.kv.mod_revision)
                mine = tuple(r for r in running if r.job == name)
                upcoming = None if spec.paused else self.next_fire_time(spec)
                result.append(JobStatus(spec, upcoming, record, mine, kv.mod_revision))
        return result

    def wait_record(
        self, name: str, run_id: str | None = None, *, timeout: float = 30.0
    ) -> RunRecord:
        """Wait (bounded) for the record of run ``run_id`` of job ``name`` (or, without
        ``run_id``, for the next record written); EtcdTimeoutError if none comes in time."""
        deadline = backend.monotonic() + timeout
        key = self.keys.record(name, run_id) if run_id else self.keys.history(name)
        got = self.client.get(key)
        if run_id and got.kv is not None:
            return RunRecord.from_json(got.kv.value, revision=got.kv.mod_revision)
        with self.client.watch(
            key, prefix=run_id is None, start_revision=got.header.revision + 1
        ) as watcher:
            while True:
                remaining = deadline - backend.monotonic()
                if remaining <= 0:
                    break
                try:
                    response = watcher.read(remaining)
                except EtcdTimeoutError:
                    break
                for event in response.events:
                    if event.value:
                        return RunRecord.from_json(event.value, revision=event.revision)
        raise EtcdTimeoutError(f"no record of {name}/{run_id or '(next)'} within {timeout}s")

    # -- workers --------------------------------------------------------------------------------

    def worker(
        self, handlers: Mapping[str, Handler] | Sequence[Handler] | None = None, **options: Any
    ) -> SchedulerWorker:
        """A worker with these handlers (a mapping, or functions registered by ``__name__``)
        besides those registered on this scheduler; start it with ``worker.start()``
        (background), ``worker.run()`` (blocking) or ``with``. Options:
        ``worker_id``, ``commands`` (run shell-command jobs, default True), ``session_ttl``,
        ``start_timeout``."""
        if handlers is not None and not isinstance(handlers, Mapping):
            handlers = {getattr(h, "__name__", repr(h)): h for h in handlers}
        return SchedulerWorker(self, handlers, **options)


def _same_spec(raw: bytes, spec: JobSpec) -> bool:
    try:
        return JobSpec.from_json(raw, name=spec.name) == spec
    except InvalidArgumentError:
        return False


def _nonce() -> str:
    return secrets.token_hex(3)


def _running(keys: JobKeys, kv: KeyValue) -> RunningRun | None:
    _, name, run_id = keys.split(kv.key)
    try:
        data = json.loads(kv.value)
        tick = datetime.fromisoformat(data["tick"]) if data.get("tick") else None
        return RunningRun(
            name,
            run_id,
            str(data["worker"]),
            kv.create_revision,
            kv.lease,
            float(data.get("started", 0.0)),
            int(data.get("attempt", 1)),
            str(data.get("kind", "scheduled")),
            tick,
        )
    except (ValueError, TypeError, KeyError):
        return None
