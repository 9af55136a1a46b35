"""The scheduler's data: job definitions, run records, key layout and errors (pure code).

Keys under a scheduler's ``prefix`` (default ``/job/``)::

    <prefix><name>                          job definition (JSON, ``JobSpec``)
    <prefix>runs/<name>/<run id>            the claim of one tick (create revision = fencing token)
    <prefix>running/<name>/<run id>         a run in progress, on the running worker's session lease
    <prefix>history/<name>/<run id>         the run's record (JSON, ``RunRecord``), bounded per job
    <prefix>kill/<name>                     kill request, on a short lease
    <prefix>triggers/<name>/<run id>        a manual run or a retry waiting for a worker
    <prefix>workers/<worker id>/<lease>     a live worker, on its session lease
    <prefix>sessions/<worker id>/<lease>    a worker's session whose runs may need recording as
                                            lost (no lease: outlives the session; deleted on a
                                            clean stop or once the session's runs are recorded)

Job names are ``[A-Za-z0-9][A-Za-z0-9_.-]*`` (no ``/``), and the seven sub-prefix names above are
refused as job names, so definitions never collide with the scheduler's own keys;
``definition_ranges`` gives the key ranges that hold only definitions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from .._exceptions import InvalidArgumentError, RecipeError
from .keys import prefix_range_end

# -- errors -----------------------------------------------------------------------------------


class SchedulerError(RecipeError):
    """Base of the scheduler's errors."""


class InvalidJobError(SchedulerError, InvalidArgumentError):
    """A job definition is malformed (bad name, schedule, time zone, policy ...); nothing was
    written."""


class UnknownHandlerError(InvalidJobError):
    """The job names a handler that neither this process nor any live worker registered;
    nothing was written."""


class JobNotFoundError(SchedulerError):
    """No job with that name exists."""


class JobExistsError(SchedulerError):
    """``add_job`` found a job with that name already (use ``replace=True`` or ``update_job``)."""


class RunCancelledError(SchedulerError):
    """Raised by ``ctx.raise_if_cancelled()`` once the run was killed, timed out or lost."""


# -- names and keys ---------------------------------------------------------------------------

RESERVED = ("history", "kill", "running", "runs", "sessions", "triggers", "workers")
"""Sub-prefixes of the scheduler's own keys; refused as job names."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_WORKER = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")

OVERLAP_POLICIES = ("forbid", "replace", "allow")
MISFIRE_POLICIES = ("skip", "run_once")


def check_job_name(name: object) -> str:
    """``name`` if it is a valid job name, else InvalidJobError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidJobError(
            f"bad job name {name!r}: use 1-128 letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    if name in RESERVED:
        raise InvalidJobError(f"job name {name!r} is reserved (reserved: {', '.join(RESERVED)})")
    return name


def check_worker_id(worker_id: object) -> str:
    """``worker_id`` if valid (letters, digits, ``_.:@-``; no ``/``), else InvalidArgumentError."""
    if not isinstance(worker_id, str) or not _WORKER.fullmatch(worker_id):
        raise InvalidArgumentError(f"bad worker id {worker_id!r}: no '/' or spaces, 1-128 chars")
    return worker_id


class JobKeys:
    """The key layout of one scheduler prefix (see the module docstring)."""

    def __init__(self, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix.endswith("/") or len(prefix) < 2:
            raise InvalidArgumentError(f"a scheduler prefix must end with '/', not {prefix!r}")
        self.prefix = prefix

    def job(self, name: str) -> str:
        """The definition key of job ``name``."""
        return self.prefix + name

    def runs(self, name: str) -> str:
        """The prefix of job ``name``'s claims."""
        return f"{self.prefix}runs/{name}/"

    def run(self, name: str, run_id: str) -> str:
        """The claim key of one run."""
        return f"{self.prefix}runs/{name}/{run_id}"

    def running(self, name: str | None = None) -> str:
        """The prefix of the runs in progress (of job ``name``, or of all jobs)."""
        return f"{self.prefix}running/" + (f"{name}/" if name else "")

    def running_run(self, name: str, run_id: str) -> str:
        """The in-progress key of one run."""
        return f"{self.prefix}running/{name}/{run_id}"

    def history(self, name: str | None = None) -> str:
        """The prefix of the run records (of job ``name``, or of all jobs)."""
        return f"{self.prefix}history/" + (f"{name}/" if name else "")

    def record(self, name: str, run_id: str) -> str:
        """The record key of one run."""
        return f"{self.prefix}history/{name}/{run_id}"

    def kill(self, name: str | None = None) -> str:
        """The kill key of job ``name`` (or the prefix of all kill keys)."""
        return f"{self.prefix}kill/" + (name or "")

    def triggers(self, name: str | None = None) -> str:
        """The prefix of pending manual runs and retries (of job ``name``, or of all jobs)."""
        return f"{self.prefix}triggers/" + (f"{name}/" if name else "")

    def trigger(self, name: str, run_id: str) -> str:
        """The key of one pending manual run or retry."""
        return f"{self.prefix}triggers/{name}/{run_id}"

    def workers(self) -> str:
        """The prefix of worker registrations."""
        return f"{self.prefix}workers/"

    def worker(self, worker_id: str, lease: int | str) -> str:
        """The registration key of a worker's session (``lease`` as an int or its hex form)."""
        lease_hex = lease if isinstance(lease, str) else f"{lease:x}"
        return f"{self.prefix}workers/{worker_id}/{lease_hex}"

    def session(self, worker_id: str, lease: int | str) -> str:
        """The marker of a worker's session (``lease`` as an int or its hex form)."""
        lease_hex = lease if isinstance(lease, str) else f"{lease:x}"
        return f"{self.prefix}sessions/{worker_id}/{lease_hex}"

    def sessions(self) -> str:
        """The prefix of the session markers."""
        return f"{self.prefix}sessions/"

    def definition_ranges(self) -> list[tuple[bytes, bytes]]:
        """Key ranges ``[start, end)`` that together hold every definition and nothing else."""
        base = self.prefix.encode()
        cursor = base
        ranges = []
        for sub in sorted(f"{r}/".encode() for r in RESERVED):
            ranges.append((cursor, base + sub))
            cursor = prefix_range_end(base + sub)
        ranges.append((cursor, prefix_range_end(base)))
        return ranges

    def quiet_ranges(self) -> list[tuple[bytes, bytes]]:
        """Key ranges ``[start, end)`` holding everything but the busy ``history/``,
        ``running/`` and ``runs/`` keys: definitions, kill requests, triggers and workers (what
        a worker watches)."""
        base = self.prefix.encode()
        cursor = base
        ranges = []
        for sub in (b"history/", b"running/", b"runs/"):
            ranges.append((cursor, base + sub))
            cursor = prefix_range_end(base + sub)
        ranges.append((cursor, prefix_range_end(base)))
        return ranges

    def split(self, key: bytes) -> tuple[str, str, str]:
        """``(kind, name, rest)`` of a key under the prefix: kind is ``"job"`` or a sub-prefix
        name (``"runs"``, ``"kill"`` ...); ``("", "", "")`` for a key outside the prefix."""
        text = key.decode(errors="replace")
        if not text.startswith(self.prefix):
            return "", "", ""
        tail = text[len(self.prefix) :]
        head, sep, rest = tail.partition("/")
        if not sep:
            return "job", tail, ""
        if head not in RESERVED:
            return "", "", ""
        name, _, rest = rest.partition("/")
        return head, name, rest


# -- job definitions --------------------------------------------------------------------------


def _number(value: object, what: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise InvalidJobError(f"{what} must be a number >= {minimum}, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class JobSpec:
    """A job definition, stored as JSON at ``<prefix><name>``. Checked when built.

    ``schedule``: cron (5 fields, or 6 with seconds first), ``@hourly``-style macro,
    ``@every 30s`` or ``@at 2030-01-01T09:00``; ``timezone``: IANA name. Exactly one of
    ``handler`` (a Python handler registered in the workers, called with ``args``) and
    ``command`` (a shell string run by ``/bin/sh -c``, or an argv list).

    ``overlap``: ``"forbid"`` (a tick whose predecessor still runs anywhere is skipped and recorded
    as skipped), ``"replace"`` (the running one is killed) or ``"allow"``. ``misfire``:
    ``"skip"`` (a tick claimed more than ``misfire_grace`` seconds late is recorded as missed) or
    ``"run_once"`` (the latest of the late ticks runs once). ``timeout``: seconds before the run
    is killed (None: no limit). ``retries``: how many more attempts a failed, timed-out or lost
    run gets, ``retry_backoff`` seconds apart (doubling). ``jitter``: runs start up to this many
    seconds after the tick (the same delay on every worker). ``history_limit``: run records kept.
    """

    name: str
    schedule: str
    timezone: str = "UTC"
    handler: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    command: str | tuple[str, ...] | None = None
    overlap: str = "forbid"
    misfire: str = "skip"
    misfire_grace: float = 5.0
    timeout: float | None = None
    retries: int = 0
    retry_backoff: float = 1.0
    jitter: float = 0.0
    paused: bool = False
    history_limit: int = 20
    description: str = ""

    def __post_init__(self) -> None:
        from .schedule import Schedule

        check_job_name(self.name)
        Schedule.parse(self.schedule, self.timezone)
        if (self.handler is None) == (self.command is None):
            raise InvalidJobError(f"job {self.name!r}: give exactly one of handler= and command=")
        if self.handler is not None and (
            not isinstance(self.handler, str) or not self.handler.strip()
        ):
            raise InvalidJobError(f"job {self.name!r}: handler must be a non-empty name")
        if isinstance(self.command, list):
            object.__setattr__(self, "command", tuple(self.command))
        if isinstance(self.command, tuple) and (
            not self.command or not all(isinstance(a, str) for a in self.command)
        ):
            raise InvalidJobError(f"job {self.name!r}: command argv must be non-empty strings")
        if isinstance(self.command, str) and not self.command.strip():
            raise InvalidJobError(f"job {self.name!r}: command must not be empty")
        if not isinstance(self.args, Mapping):
            raise InvalidJobError(f"job {self.name!r}: args must be a JSON object (a dict)")
        try:
            json.dumps(dict(self.args))
        except (TypeError, ValueError) as error:
            raise InvalidJobError(f"job {self.name!r}: args are not JSON: {error}") from None
        if self.overlap not in OVERLAP_POLICIES:
            raise InvalidJobError(
                f"job {self.name!r}: overlap must be one of {OVERLAP_POLICIES}, not {self.overlap!r}"
            )
        if self.misfire not in MISFIRE_POLICIES:
            raise InvalidJobError(
                f"job {self.name!r}: misfire must be one of {MISFIRE_POLICIES}, not {self.misfire!r}"
            )
        _number(self.misfire_grace, "misfire_grace")
        _number(self.retry_backoff, "retry_backoff")
        _number(self.jitter, "jitter")
        if self.timeout is not None:
            _number(self.timeout, "timeout", minimum=0.001)
        for name, low in (("retries", 0), ("history_limit", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidJobError(f"job {self.name!r}: {name} must be an int >= {low}")
        if not isinstance(self.paused, bool) or not isinstance(self.description, str):
            raise InvalidJobError(f"job {self.name!r}: paused must be a bool, description a str")

    def replace(self, **changes: Any) -> JobSpec:
        """A copy with ``changes`` applied (checked again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form."""
        data = asdict(self)
        data["args"] = dict(self.args)
        if isinstance(self.command, tuple):
            data["command"] = list(self.command)
        return data

    def to_json(self) -> bytes:
        """The stored form."""
        return encode_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str | None = None) -> JobSpec:
        """Build (and check) a spec from its JSON form; unknown fields are refused."""
        if not isinstance(data, Mapping):
            raise InvalidJobError("a job definition must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidJobError(f"unknown job field(s): {', '.join(unknown)}")
        values = dict(data)
        if name is not None:
            values["name"] = name
        if "schedule" not in values or "name" not in values:
            raise InvalidJobError("a job definition needs a name and a schedule")
        try:
            return cls(**values)
        except TypeError as error:
            raise InvalidJobError(f"bad job definition: {error}") from None

    @classmethod
    def from_json(cls, raw: bytes | str, *, name: str | None = None) -> JobSpec:
        """Parse the stored form (the key's name wins over a ``name`` inside)."""
        try:
            data = json.loads(raw)
        except ValueError as error:
            raise InvalidJobError(f"job definition is not JSON: {error}") from None
        return cls.from_dict(data, name=name)


# -- runs -------------------------------------------------------------------------------------


class RunOutcome:
    """The outcomes a run record can have (plain strings)."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    KILLED = "killed"
    LOST = "lost"
    MISSED = "missed"
    SKIPPED = "skipped"
    ALL = (OK, FAILED, TIMEOUT, KILLED, LOST, MISSED, SKIPPED)


OUTPUT_LIMIT = 4096
"""Characters of a run's output (or error) kept in its record: the last ones."""


def truncate(text: str | None, limit: int = OUTPUT_LIMIT) -> str | None:
    """``text`` cut to its last ``limit`` characters (marked with a leading ``...``)."""
    if text is None or len(text) <= limit:
        return text
    return "..." + text[-(limit - 3) :]


@dataclass(frozen=True)
class RunRecord:
    """One run's record, stored at ``<prefix>history/<job>/<run id>``.

    ``outcome``: see ``RunOutcome``. ``tick``: the scheduled time (UTC; for a manual run the time
    it was asked for). ``kind``: ``"scheduled"``, ``"manual"`` or ``"retry"``. ``token``: the
    claim's create revision (the fencing token; 0 for a missed tick). ``started`` / ``ended``:
    Unix times by the worker's clock. ``exit_code`` for commands, ``error`` for exceptions,
    ``output``: the last characters of the command's output (or the handler's result).
    ``revision``: where etcd stored the record (0 before).
    """

    job: str
    run_id: str
    tick: datetime | None
    outcome: str
    kind: str = "scheduled"
    attempt: int = 1
    worker: str | None = None
    token: int = 0
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    error: str | None = None
    output: str | None = None
    revision: int = 0

    @property
    def duration(self) -> float | None:
        """``ended - started`` in seconds, when both are known."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_json(self) -> bytes:
        """The stored form."""
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["tick"] = self.tick.isoformat() if self.tick else None
        data["output"] = truncate(self.output)
        data["error"] = truncate(self.error)
        return encode_json(data)

    @classmethod
    def from_json(cls, raw: bytes | str, *, revision: int = 0) -> RunRecord:
        """Parse the stored form; InvalidArgumentError if it is not a record."""
        try:
            data = json.loads(raw)
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            tick = values.get("tick")
            values["tick"] = datetime.fromisoformat(tick) if tick else None
            values["revision"] = revision
            return cls(**values)
        except (ValueError, TypeError, AttributeError) as error:
            raise InvalidArgumentError(f"not a run record: {error}") from None


_RECORD_FIELDS = tuple(f.name for f in fields(RunRecord) if f.name != "revision")
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def encode_json(value: Mapping[str, Any]) -> bytes:
    """The scheduler's stored JSON: sorted keys, no spaces, UTF-8."""
    return _ENCODE(value).encode()


@dataclass(frozen=True)
class RunningRun:
    """A run in progress, read from ``<prefix>running/<job>/<run id>``: ``token`` is its fencing
    token, ``lease`` the running worker's session lease (the key vanishes with it)."""

    job: str
    run_id: str
    worker: str
    token: int
    lease: int
    started: float
    attempt: int = 1
    kind: str = "scheduled"
    tick: datetime | None = None


@dataclass(frozen=True)
class WorkerInfo:
    """A live worker, read from ``<prefix>workers/<id>/<lease>``."""

    id: str
    lease: int
    host: str
    pid: int
    started: float
    handlers: tuple[str, ...]
    commands: bool


@dataclass(frozen=True)
class JobStatus:
    """A job with its next fire time (by the reader's clock), last record and runs in progress."""

    spec: JobSpec
    next_fire: datetime | None
    last: RunRecord | None
    running: tuple[RunningRun, ...]
    revision: int
