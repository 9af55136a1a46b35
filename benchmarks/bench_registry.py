"""Service registry figures (a standalone script; starts its own etcd on loopback).

    .venv/bin/python benchmarks/bench_registry.py [--etcd PATH] [--rounds 300] [--seconds 10]

1. register-to-visible latency: from calling ``register()`` (lease grant + put) until a cache
   in the same process has the instance, and from ``update()`` until the cache has the change;
   p50 / p99, asyncio and threads.
2. ``cache.choose()`` cost per strategy, with 10 and 10,000 instances (no I/O).
3. a cache following 10,000 instances while 100 changes/s are made: its process's memory
   (RSS growth from priming) and CPU time during the changes, measured in a child process
   that runs only the cache; the child also checks it ends equal to a fresh read.

Prints a table. etcd runs with fsync off (the disk here syncs in ~0.1 ms anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import timeit
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etcd_recipes import AsyncClient, Client, Op  # noqa: E402
from etcd_recipes._core.registry import encode_value  # noqa: E402
from etcd_recipes.testing import EtcdServer  # noqa: E402

NAMESPACE = "/bench/"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------ 1. latency


async def latency_async(endpoints: list[str], rounds: int) -> dict[str, list[float]]:
    async with AsyncClient(endpoints) as client:
        registry = client.registry(NAMESPACE, ttl=30)
        seen: dict[tuple[str, str], float] = {}
        arrived = asyncio.Event()

        def on_event(event: Any) -> None:
            seen[(event.type.value, event.instance.id)] = time.perf_counter()
            arrived.set()

        async def wait_for(key: tuple[str, str]) -> float:
            while key not in seen:
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 5)
            return seen[key]

        register, update = [], []
        async with registry.cache("lat-async") as cache:
            cache.add_listener(on_event)
            for n in range(rounds):
                start = time.perf_counter()
                reg = await registry.register("lat-async", f"i{n}", address="h", port=1)
                register.append(await wait_for(("added", f"i{n}")) - start)
                start = time.perf_counter()
                await reg.update({"n": n})
                update.append(await wait_for(("updated", f"i{n}")) - start)
                await reg.deregister()
        return {"register": register, "update": update}


def latency_sync(endpoints: list[str], rounds: int) -> dict[str, list[float]]:
    with Client(endpoints) as client:
        registry = client.registry(NAMESPACE, ttl=30)
        seen: dict[tuple[str, str], float] = {}
        cond = threading.Condition()

        def on_event(event: Any) -> None:
            with cond:
                seen[(event.type.value, event.instance.id)] = time.perf_counter()
                cond.notify_all()

        def wait_for(key: tuple[str, str]) -> float:
            with cond:
                if not cond.wait_for(lambda: key in seen, 5):
                    raise TimeoutError(key)
                return seen[key]

        register, update = [], []
        with registry.cache("lat-sync") as cache:
            cache.add_listener(on_event)
            for n in range(rounds):
                start = time.perf_counter()
                reg = registry.register("lat-sync", f"i{n}", address="h", port=1)
                register.append(wait_for(("added", f"i{n}")) - start)
                start = time.perf_counter()
                reg.update({"n": n})
                update.append(wait_for(("updated", f"i{n}")) - start)
                reg.deregister()
        return {"register": register, "update": update}


# ------------------------------------------------------------------ 2. choose()


def populate(client: Client, service: str, count: int) -> None:
    """``count`` instances written directly (one lease, batched txns): fast to set up."""
    lease = client.lease.grant(600)
    batch = []
    for n in range(count):
        value = encode_value(f"10.0.{n // 256}.{n % 256}", 8080, {"zone": f"z{n % 3}"}, time.time())
        batch.append(Op.put(f"{NAMESPACE}{service}/i{n:05d}", value, lease=lease))
        if len(batch) == 100:
            client.txn().then(*batch).commit()
            batch = []
    if batch:
        client.txn().then(*batch).commit()


def choose_costs(endpoints: list[str]) -> list[tuple[str, int, float]]:
    rows = []
    with Client(endpoints) as client:
        registry = client.registry(NAMESPACE)
        for count in (10, 10_000):
            service = f"choose{count}"
            populate(client, service, count)
            with registry.cache(service) as cache:
                assert len(cache) == count
                calls = 200_000
                for strategy in ("round_robin", "random", "sticky"):
                    per = timeit.timeit(partial(cache.choose, strategy), number=calls) / calls
                    rows.append((strategy, count, per))
                cache.mark_down(cache.instances()[0], 600)
                per = timeit.timeit(partial(cache.choose, "round_robin"), number=calls) / calls
                rows.append(("round_robin, 1 marked down", count, per))
    return rows


# ------------------------------------------------------------------ 3. following 10k


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def follower_child(endpoints: list[str], service: str, flavour: str) -> None:
    """Run in a child process: prime a cache, report, then follow until stdin says 'end'."""

    def report(**values: Any) -> None:
        print(json.dumps(values), flush=True)

    def follow_sync() -> None:
        with Client(endpoints) as client:
            client.get("/")  # connect first: the connection's memory is not the cache's
            before = rss_kib()
            with client.registry(NAMESPACE).cache(service) as cache:
                report(primed=len(cache), rss_growth_kib=rss_kib() - before)
                sys.stdin.readline()  # "go"
                cpu, events = cpu_seconds(), [0]
                cache.add_listener(lambda e: events.__setitem__(0, events[0] + 1))
                sys.stdin.readline()  # "end"
                used = cpu_seconds() - cpu
                fresh = {i.id: i for i in client.registry(NAMESPACE).instances(service)}
                ok = cache.wait_until(lambda t: t == fresh, 10)
                report(cpu=used, events=events[0], equal=ok, rss_kib=rss_kib())

    async def follow_async() -> None:
        async with AsyncClient(endpoints) as client:
            await client.get("/")
            before = rss_kib()
            async with client.registry(NAMESPACE).cache(service) as cache:
                report(primed=len(cache), rss_growth_kib=rss_kib() - before)
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, sys.stdin.readline)
                cpu, events = cpu_seconds(), [0]
                cache.add_listener(lambda e: events.__setitem__(0, events[0] + 1))
                await loop.run_in_executor(None, sys.stdin.readline)
                used = cpu_seconds() - cpu
                fresh = {i.id: i for i in await client.registry(NAMESPACE).instances(service)}
                ok = await cache.wait_until(lambda t: t == fresh, 10)
                report(cpu=used, events=events[0], equal=ok, rss_kib=rss_kib())

    if flavour == "async":
        asyncio.run(follow_async())
    else:
        follow_sync()


def following(endpoints: list[str], flavour: str, seconds: float, rate: int) -> dict[str, Any]:
    service = f"follow-{flavour}"
    count = 10_000
    with Client(endpoints) as client:
        populate(client, service, count)
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", flavour, service, ",".join(endpoints)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        primed = json.loads(child.stdout.readline())
        child.stdin.write("go\n")
        child.stdin.flush()
        lease = client.lease.grant(600)
        rng = random.Random(7)
        made = 0
        start = time.perf_counter()
        while (now := time.perf_counter()) - start < seconds:
            due = int((now - start) * rate)
            while made < due:  # updates, plus a remove/add pair every 10th change
                n = rng.randrange(count)
                key = f"{NAMESPACE}{service}/i{n:05d}"
                if made % 10 == 9:
                    client.delete(key)
                value = encode_value("10.1.0.1", 8080, {"change": made}, time.time())
                client.put(key, value, lease=lease)
                made += 1
            time.sleep(0.002)
        elapsed = time.perf_counter() - start
        child.stdin.write("end\n")
        child.stdin.flush()
        final = json.loads(child.stdout.readline())
        child.wait(30)
    return {
        "flavour": flavour,
        "instances": primed["primed"],
        "rss_growth_mib": primed["rss_growth_kib"] / 1024,
        "rss_total_mib": final["rss_kib"] / 1024,
        "changes_per_s": made / elapsed,
        "cpu_percent": 100 * final["cpu"] / elapsed,
        "events": final["events"],
        "equal": final["equal"],
    }


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etcd", default=None, help="etcd binary (default: $ETCD_BINARY / found)")
    parser.add_argument("--rounds", type=int, default=300, help="registrations timed per flavour")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the 100/s phase")
    parser.add_argument("--rate", type=int, default=100, help="changes per second")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        flavour, service, endpoints = args.child
        follower_child(endpoints.split(","), service, flavour)
        return

    with EtcdServer(args.etcd, fsync=False) as server:
        endpoints = server.endpoints
        print(f"etcd {server.version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
        print("register-to-visible-in-cache latency (same process, loopback)")
        print(f"  {'flavour':8} {'step':9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        lat = {
            "asyncio": asyncio.run(latency_async(endpoints, args.rounds)),
            "threads": latency_sync(endpoints, args.rounds),
        }
        for flavour, steps in lat.items():
            for step, values in steps.items():
                ms = [v * 1000 for v in values]
                print(
                    f"  {flavour:8} {step:9} {statistics.median(ms):8.2f} {pct(ms, 0.99):8.2f} "
                    f"{max(ms):8.2f}"
                )
        print("\ncache.choose() cost (no I/O)")
        print(f"  {'strategy':28} {'instances':>9} {'us/call':>8}")
        for strategy, count, per in choose_costs(endpoints):
            print(f"  {strategy:28} {count:9} {per * 1e6:8.2f}")
        print(f"\na cache following 10,000 instances, {args.rate} changes/s for {args.seconds:g} s")
        print(
            f"  {'flavour':8} {'RSS growth MiB':>14} {'RSS MiB':>8} {'changes/s':>9} "
            f"{'CPU %':>6} {'events':>7} {'equal':>5}"
        )
        for flavour in ("async", "sync"):
            row = following(endpoints, flavour, args.seconds, args.rate)
            print(
                f"  {row['flavour']:8} {row['rss_growth_mib']:14.1f} {row['rss_total_mib']:8.1f} "
                f"{row['changes_per_s']:9.1f} {row['cpu_percent']:6.1f} {row['events']:7} "
                f"{row['equal']!s:>5}"
            )


if __name__ == "__main__":
    main()
