"""``python -m etcd_recipes jobs ...``: manage the distributed cron scheduler's jobs.

    python -m etcd_recipes jobs [--endpoints H:P,...] [--prefix /job/] COMMAND ...

    ls                                  table: schedule, time zone, next run, last outcome
    add NAME SCHEDULE (--handler H [--args JSON] | --command CMD) [options]
    rm NAME [--keep-history]
    pause NAME | resume NAME
    trigger NAME [--wait SECONDS]       run now (prints the run id, or the record with --wait)
    kill NAME                           kill its runs in progress
    history NAME [--limit N]            its run records, oldest first
    workers                             the live workers

Exit status: 0 on success, 1 on an error (printed on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from .. import Client, EtcdError, JobSpec, RunRecord
from .._sync.recipes.scheduler import Scheduler


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m etcd_recipes jobs", description="Manage scheduler jobs stored in etcd."
    )
    parser.add_argument(
        "--endpoints",
        default=os.environ.get("ETCD_ENDPOINTS", "127.0.0.1:2379"),
        help="comma-separated host:port (default: $ETCD_ENDPOINTS or 127.0.0.1:2379)",
    )
    parser.add_argument("--prefix", default="/job/", help="the scheduler's key prefix")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    sub = parser.add_subparsers(dest="verb", required=True)

    sub.add_parser("ls", help="list jobs with next run and last outcome")
    add = sub.add_parser("add", help="add (or with --replace, overwrite) a job")
    add.add_argument("name")
    add.add_argument("schedule", help="cron (5 or 6 fields), @hourly, '@every 30s', '@at ...'")
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("--handler", help="a Python handler registered in the workers")
    what.add_argument("--command", help="a shell command (run with /bin/sh -c)")
    add.add_argument("--args", default="{}", help="JSON object passed to the handler")
    add.add_argument("--tz", default="UTC", help="IANA time zone (default UTC)")
    add.add_argument("--overlap", choices=("forbid", "replace", "allow"), default="forbid")
    add.add_argument("--misfire", choices=("skip", "run_once"), default="skip")
    add.add_argument("--grace", type=float, default=5.0, help="misfire grace in seconds")
    add.add_argument("--job-timeout", type=float, default=None, help="kill runs after N s")
    add.add_argument("--retries", type=int, default=0)
    add.add_argument("--backoff", type=float, default=1.0, help="first retry delay (s)")
    add.add_argument("--jitter", type=float, default=0.0, help="spread starts over N s")
    add.add_argument("--history-limit", type=int, default=20)
    add.add_argument("--description", default="")
    add.add_argument("--paused", action="store_true", help="add it paused")
    add.add_argument("--replace", action="store_true", help="overwrite an existing job")
    add.add_argument(
        "--no-check-handler",
        action="store_true",
        help="accept a handler no live worker has registered yet",
    )

    rm = sub.add_parser("rm", help="remove a job")
    rm.add_argument("name")
    rm.add_argument("--keep-history", action="store_true")
    for verb in ("pause", "resume", "kill"):
        sub.add_parser(verb, help=f"{verb} a job").add_argument("name")
    trigger = sub.add_parser("trigger", help="run a job now")
    trigger.add_argument("name")
    trigger.add_argument("--wait", type=float, default=0.0, help="wait N s for its record")
    history = sub.add_parser("history", help="a job's run records")
    history.add_argument("name")
    history.add_argument("--limit", type=int, default=None)
    sub.add_parser("workers", help="the live workers")
    return parser


def _when(moment: datetime | float | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _record_row(record: RunRecord) -> list[str]:
    duration = "-" if record.duration is None else f"{record.duration:.3f}s"
    detail = record.error or (record.output or "").strip().replace("\n", " ")
    return [
        record.run_id,
        record.outcome,
        record.kind,
        str(record.attempt),
        record.worker or "-",
        str(record.token or "-"),
        _when(record.started),
        duration,
        detail[:60],
    ]


def _ls(scheduler: Scheduler) -> str:
    rows = [["NAME", "SCHEDULE", "TZ", "WHAT", "STATE", "NEXT RUN", "LAST RUN", "OUTCOME"]]
    for status in scheduler.status():
        spec = status.spec
        what = f"handler {spec.handler}" if spec.handler else "command"
        state = "paused" if spec.paused else f"running x{len(status.running)}"
        state = state if spec.paused or status.running else "idle"
        last = status.last
        rows.append(
            [
                spec.name,
                spec.schedule,
                spec.timezone,
                what,
                state,
                _when(status.next_fire),
                last.run_id if last else "-",
                last.outcome if last else "-",
            ]
        )
    return table(rows) if len(rows) > 1 else "no jobs"


def run(args: argparse.Namespace, client: Client) -> str:
    """Carry out one parsed command; returns what to print."""
    scheduler = client.scheduler(args.prefix)
    command = args.verb
    if command == "ls":
        return _ls(scheduler)
    if command == "add":
        try:
            job_args = json.loads(args.args)
        except ValueError as error:
            raise SystemExit(f"error: --args is not JSON: {error}") from None
        spec = JobSpec(
            args.name,
            args.schedule,
            timezone=args.tz,
            handler=args.handler,
            command=args.command,
            args=job_args,
            overlap=args.overlap,
            misfire=args.misfire,
            misfire_grace=args.grace,
            timeout=args.job_timeout,
            retries=args.retries,
            retry_backoff=args.backoff,
            jitter=args.jitter,
            paused=args.paused,
            history_limit=args.history_limit,
            description=args.description,
        )
        scheduler.add_job(spec, replace=args.replace, check_handler=not args.no_check_handler)
        nxt = scheduler.next_fire_time(spec)
        return f"added {spec.name}; next run {_when(nxt)}"
    if command == "rm":
        scheduler.remove_job(args.name, keep_history=args.keep_history)
        return f"removed {args.name}"
    if command in ("pause", "resume"):
        getattr(scheduler, command)(args.name)
        return f"{command}d {args.name}"
    if command == "kill":
        count = scheduler.kill(args.name)
        return f"kill requested for {args.name}: {count} run(s) in progress"
    if command == "trigger":
        run_id = scheduler.trigger(args.name)
        if not args.wait:
            return f"triggered {args.name}: run {run_id}"
        record = scheduler.wait_record(args.name, run_id, timeout=args.wait)
        return table([_HISTORY_HEADER, _record_row(record)])
    if command == "history":
        records = scheduler.history(args.name, limit=args.limit)
        if not records:
            return f"no history for {args.name}"
        return table([_HISTORY_HEADER, *(_record_row(r) for r in records)])
    if command == "workers":
        rows = [["WORKER", "HOST", "PID", "STARTED", "HANDLERS", "COMMANDS"]]
        for w in scheduler.workers():
            handlers = ",".join(w.handlers) or "-"
            rows.append([w.id, w.host, str(w.pid), _when(w.started), handlers, str(w.commands)])
        return table(rows) if len(rows) > 1 else "no live workers"
    raise AssertionError(command)  # pragma: no cover - argparse refuses other commands


_HISTORY_HEADER = [
    "RUN",
    "OUTCOME",
    "KIND",
    "ATTEMPT",
    "WORKER",
    "TOKEN",
    "STARTED",
    "DURATION",
    "DETAIL",
]


def main(argv: list[str]) -> int:
    """Entry point of ``python -m etcd_recipes jobs``."""
    args = _parser().parse_args(argv)
    try:
        with Client(args.endpoints.split(","), timeout=args.timeout) as client:
            print(run(args, client))
    except EtcdError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
