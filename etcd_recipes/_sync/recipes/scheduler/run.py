# GENERATED from etcd_recipes/_async/recipes/scheduler/run.py by scripts/unasync.py -- do not edit.
"""One run of a job: what its handler sees (``JobContext``), and running the handler or
the shell command under the job's timeout, stopping it when the run is cancelled.

Cancelling a run (kill, timeout, lost session) sets ``ctx.cancelled``; an async handler's task
is cancelled too, a command gets SIGTERM and, ``kill_grace`` later, SIGKILL (to its process
group). After ``kill_grace`` the run is given up either way (a handler that ignores
cancellation is logged and left behind).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...._core.jobs import OUTPUT_LIMIT, JobSpec, RunCancelledError, RunOutcome, truncate
from ...._core.ops import Compare
from ... import _backend as backend

if TYPE_CHECKING:
    from ...client import Client

log = logging.getLogger("etcd_recipes.scheduler")

_MAX_SLEEP = 0.5  # a supervised handler without a timeout is looked at at least this often
_POLL = 0.05  # how often a running command is polled


class JobContext:
    """What a handler receives: which run this is, its fencing token, and cancellation.

    ``job`` / ``spec`` / ``args``: the job; ``run_id`` and ``tick`` (UTC) name the run;
    ``token`` is the claim's create revision, increasing with every run of every job: a handler
    can store it beside its own writes and refuse older ones, or guard writes with ``fence()``
    (true while this run still holds its in-progress key). ``cancelled`` turns True when the run
    is killed, times out, or the worker loses its session; in the async flavour the handler's
    task is also cancelled, in the sync flavour the handler should poll ``cancelled``.
    """

    def __init__(
        self,
        client: Client,
        spec: JobSpec,
        run_id: str,
        tick: datetime | None,
        token: int,
        attempt: int,
        kind: str,
        worker_id: str,
        running_key: str,
    ) -> None:
        self.client = client
        self.spec = spec
        self.job = spec.name
        self.args: dict[str, Any] = dict(spec.args)
        self.run_id = run_id
        self.tick = tick
        self.token = token
        self.attempt = attempt
        self.kind = kind
        self.worker_id = worker_id
        self.running_key = running_key
        self.cancel_reason: str | None = None
        self._cancelled = backend.Event()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.job}/{self.run_id} token={self.token}>"

    @property
    def cancelled(self) -> bool:
        """True once the run was killed, timed out or lost its worker's session."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until the run is cancelled; True if it was."""
        return backend.wait_event(self._cancelled, timeout)

    def raise_if_cancelled(self) -> None:
        """Raise RunCancelledError if the run was cancelled."""
        if self.cancelled:
            raise RunCancelledError(f"run {self.job}/{self.run_id}: {self.cancel_reason}")

    def fence(self) -> Compare:
        """A compare that holds while this run still owns its in-progress key (put it in the
        ``if_`` of your own transactions)."""
        return Compare.create_revision(self.running_key) == self.token


@dataclass
class Run:
    """A run in progress: its context, and how it ended (or was cancelled)."""

    ctx: JobContext
    wake: Any = field(default_factory=backend.Event)
    done: Any = field(default_factory=backend.Event)
    outcome: str | None = None
    detail: str | None = None
    cancelled_at: float | None = None
    task: backend.Task | None = None
    result: Any = None
    error: BaseException | None = None

    def cancel(self, outcome: str, detail: str) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self.detail = detail
        self.cancelled_at = backend.monotonic()
        self.ctx.cancel_reason = detail
        self.ctx._cancelled.set()
        self.wake.set()
        if self.task is not None:
            self.task.cancel()


def run_handler(
    run: Run, handler: Callable[..., Any], pending: Any, grace: float, worker_id: str
) -> tuple[int | None, str | None]:
    """Run ``handler(ctx)`` (or ``pending``, what a plain function handler returned) in
    a task of its own, supervised; returns (None, the result's repr)."""
    spec = run.ctx.spec

    def call() -> None:
        try:
            result = handler(run.ctx) if pending is None else pending
            if inspect.isawaitable(result):
                result = result
            run.result = result
        except BaseException as error:  # asyncio cancellation included
            run.error = error
        finally:
            run.done.set()
            run.wake.set()

    run.task = backend.spawn(call, name=f"etcd-job-{spec.name}")
    supervise(run, lambda: run.done.is_set(), None, grace, worker_id)
    if run.outcome is not None:
        run.error = None
    output = None if run.result is None else truncate(repr(run.result), OUTPUT_LIMIT)
    return None, output


def run_command(run: Run, grace: float, worker_id: str) -> tuple[int | None, str | None]:
    """Run the job's shell command (in a process group of its own, with ``ETCD_JOB_*`` in its
    environment), supervised; returns its exit code and the tail of its output."""
    ctx = run.ctx
    spec = ctx.spec
    env = dict(os.environ)
    env.update(
        ETCD_JOB_NAME=spec.name,
        ETCD_JOB_RUN_ID=ctx.run_id,
        ETCD_JOB_TOKEN=str(ctx.token),
        ETCD_JOB_ATTEMPT=str(ctx.attempt),
        ETCD_JOB_ARGS=json.dumps(dict(spec.args)),
    )
    command = spec.command
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(
                command if isinstance(command, str) else list(command or ()),
                shell=isinstance(command, str),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            run.error = error
            return None, None
        supervise(run, lambda: proc.poll() is not None, proc, grace, worker_id)
        code = proc.poll()
        out.seek(0, os.SEEK_END)
        size = out.tell()
        out.seek(max(0, size - OUTPUT_LIMIT * 4))
        text = out.read().decode(errors="replace")
    return code, truncate(text)


def supervise(
    run: Run, finished: Callable[[], bool], proc: Any, grace: float, worker_id: str
) -> None:
    """Wait for the run to end; enforce the timeout; on cancel, stop it (terminate, then
    kill after ``kill_grace``); give up waiting ``kill_grace`` after the cancel."""
    spec = run.ctx.spec
    deadline = None if spec.timeout is None else backend.monotonic() + spec.timeout
    terminated = killed = False
    while not finished():
        now = backend.monotonic()
        if deadline is not None and now >= deadline:
            run.cancel(RunOutcome.TIMEOUT, f"timed out after {spec.timeout}s")
        if run.cancelled_at is not None:
            if proc is not None and not terminated:
                _signal_group(proc, signal.SIGTERM)
                terminated = True
            elif now - run.cancelled_at >= grace:
                if proc is None:
                    log.warning("worker %s: run %s ignores cancellation", worker_id, run.ctx)
                    return
                if not killed:
                    _signal_group(proc, signal.SIGKILL)
                    killed = True
                elif now - run.cancelled_at >= grace + 5:
                    return
        run.wake.clear()
        if finished():
            break
        if proc is None and deadline is None and run.cancelled_at is None:
            backend.wait_event(run.wake, None)  # set by the handler's end or a cancel
            continue
        wait = _POLL if proc is not None else _MAX_SLEEP
        if deadline is not None:
            wait = min(wait, max(deadline - now, 0.0))
        backend.wait_event(run.wake, wait)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
