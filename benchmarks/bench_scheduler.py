"""Scheduler figures on one local etcd (loopback), printed as a table.

    .venv/bin/python benchmarks/bench_scheduler.py [--seconds 10] [--sizes 250,500,1000,2000]
        [--history-limit 20]

1. Tick-to-start latency across 3 worker processes: 20 every-second jobs for ``--seconds``;
   latency = handler start (wall clock) - tick time. p50 / p99 / max.
2. Jobs one worker process schedules with every-second schedules without missing ticks: for each
   size N, N every-second jobs for ``--seconds``; a size passes when every tick of the window has
   an ``ok`` record (none missed) and p99 latency stays under 1 s.
3. etcd requests per run (claim requests of every worker + record requests + pruning; ticks of
   different jobs due together share requests), from the workers' own counters.

``--history-limit`` sets the jobs' ``history_limit`` (default 20): a job prunes its history
every ``limit // 4`` runs once it has ``limit + limit // 4`` records, so with the default the
short trials never prune; ``--history-limit 4`` makes every run past the fifth prune (the
steady state of a long-running worker, and then some).

Workers are separate processes running the asyncio flavour (``--worker`` mode of this script).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etcd_recipes import AsyncClient, AsyncJobContext, Client, JobSpec, Op  # noqa: E402
from etcd_recipes._core import schedule as sched  # noqa: E402
from etcd_recipes.testing import EtcdServer  # noqa: E402


async def _worker(config: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stdin_closed() -> None:
        loop.remove_reader(sys.stdin.fileno())
        stop.set()

    loop.add_reader(sys.stdin.fileno(), stdin_closed)
    out = open(config["trace"], "a", buffering=1)  # noqa: SIM115

    def record(ctx: AsyncJobContext) -> None:
        assert ctx.tick is not None
        out.write(f"{ctx.job} {ctx.run_id} {time.time() - ctx.tick.timestamp():.6f}\n")

    async with AsyncClient(config["endpoints"]) as client:
        scheduler = client.scheduler(config["prefix"])
        async with scheduler.worker({"record": record}, worker_id=config["id"]) as worker:
            await stop.wait()
            stats = dict(worker.stats)
    print(json.dumps(stats), flush=True)


def _add_jobs(client: Client, prefix: str, count: int, history_limit: int = 20) -> list[str]:
    names = [f"j{i:05d}" for i in range(count)]
    for start in range(0, count, 100):
        ops = [
            Op.put(
                prefix + name,
                JobSpec(
                    name,
                    "* * * * * *",
                    handler="record",
                    overlap="allow",
                    history_limit=history_limit,
                ).to_json(),
            )
            for name in names[start : start + 100]
        ]
        client.txn().then(*ops).commit()
    return names


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def trial(
    server: EtcdServer, jobs: int, workers: int, seconds: float, history_limit: int = 20
) -> dict[str, Any]:
    """Run ``workers`` processes over ``jobs`` every-second jobs for ``seconds``."""
    prefix = f"/bench-{jobs}-{workers}-{time.monotonic_ns()}/"
    tmp = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    trace = tmp / "trace.txt"
    with Client(server.endpoints, timeout=30) as client:
        names = _add_jobs(client, prefix, jobs, history_limit)
        procs = []
        for i in range(workers):
            config = {"id": f"w{i}", "endpoints": server.endpoints, "prefix": prefix}
            config["trace"] = str(trace)
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", json.dumps(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 60
        while len(client.get(prefix + "workers/", prefix=True, keys_only=True).kvs) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not register")
            time.sleep(0.05)
        start = math.ceil(time.time()) + 2  # let the workers settle
        end = start + int(seconds)
        time.sleep(max(0.0, end + 3 - time.time()))
        stats = []
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait(60)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            stats.append(json.loads(lines[-1]) if lines else {})
        window = {sched.tick_id(sched.to_datetime(t)) for t in range(start, end)}
        records = client.get(prefix + "history/", prefix=True)
        outcomes: dict[str, int] = {}
        in_window = 0
        for kv in records.kvs:
            data = json.loads(kv.value)
            if data["run_id"] in window:
                in_window += 1
                outcomes[data["outcome"]] = outcomes.get(data["outcome"], 0) + 1
        client.delete(prefix, prefix=True)
    latencies = []
    runs: dict[tuple[str, str], int] = {}
    for line in trace.read_text().splitlines():
        name, run_id, latency = line.split()
        if run_id in window:
            latencies.append(float(latency))
            runs[name, run_id] = runs.get((name, run_id), 0) + 1
    expected = len(names) * len(window)
    requests = sum(s.get("requests", 0) for s in stats)
    ran = sum(s.get("runs", 0) for s in stats) or 1
    ok, missed = outcomes.get("ok", 0), outcomes.get("missed", 0) + (expected - in_window)
    if history_limit < len(window) + 10:  # records were pruned: count the runs themselves
        ok, missed = len(runs), expected - len(runs)
    return {
        "jobs": jobs,
        "workers": workers,
        "expected": expected,
        "ok": ok,
        "missed": missed,
        "duplicates": sum(1 for n in runs.values() if n > 1),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": _percentile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "requests_per_run": requests / ran,
        "claims_won": [s.get("won", 0) for s in stats],
    }


def main() -> None:
    """Run the trials and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", default="250,500,1000,2000")
    parser.add_argument("--history-limit", type=int, default=20)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_worker(json.loads(args.worker)))
        return
    rows = []
    with EtcdServer(fsync=False) as server:
        print(
            f"etcd {'.'.join(map(str, server.version))}, {os.cpu_count()} cores, loopback",
            flush=True,
        )
        rows.append(("latency, 3 workers", trial(server, 20, 3, args.seconds)))
        for size in (int(s) for s in args.sizes.split(",")):
            result = trial(server, size, 1, args.seconds, args.history_limit)
            rows.append((f"capacity, 1 worker, {size} jobs", result))
            print(f"  {size} jobs: {result}", flush=True)
            if result["missed"] or result["p99"] > 1.0:
                break
    header = f"{'trial':34} {'ticks':>7} {'ok':>7} {'missed':>6} {'dup':>4} "
    header += f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/run':>8}"
    print(header)
    for label, r in rows:
        print(
            f"{label:34} {r['expected']:>7} {r['ok']:>7} {r['missed']:>6} {r['duplicates']:>4} "
            f"{r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} {r['max'] * 1000:>8.1f} "
            f"{r['requests_per_run']:>8.3f}"
        )


if __name__ == "__main__":
    main()
