"""Leader election figures: failover and observation latency on one loopback etcd.

    .venv/bin/python benchmarks/bench_election.py [--rounds 200] [--kills 5] [--ttl 1]
    ETCD_BINARY=/usr/bin/etcd .venv/bin/python benchmarks/bench_election.py

Measures, and prints as a table:

* ``resign()`` -> the next leader's ``on_elected`` (asyncio and threads; two clients, the next
  candidate waiting since 0 s or 0.2 s, see ``SETTLES``), and the same hand-over with Go's ``etcdctl elect`` (SIGINT makes it
  resign; the waiting etcdctl prints when elected), which watches from the Get's revision;
* SIGKILL of the leader process -> the next ``on_elected`` (bounded by the session TTL);
* ``proclaim()`` called -> ``observe()`` delivers the new value in another client.

Standalone: starts its own etcd (``etcd_recipes.testing``), needs nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcd_recipes import AsyncClient, Client, LeaderInfo  # noqa: E402
from etcd_recipes.testing import EtcdServer  # noqa: E402

NAME = "/bench/election"
SETTLES = (0.0, 0.2)
"""How long the next candidate has waited when the leader resigns: at once (a delete that lands
before the waiter's watch is registered, or while that watch is still unsynced, is served by
etcd's ~100 ms catch-up loop), or 0.2 s (the steady state; see docs/election.md)."""


def _ms(samples: list[float]) -> tuple[float, float, float, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1e3

    return statistics.median(ordered) * 1e3, pick(0.9), pick(0.99), ordered[-1] * 1e3


async def _wait_candidates(client: AsyncClient, prefix: str, count: int) -> None:
    response = await client.get(prefix, prefix=True, count_only=True)
    if response.count >= count:
        return
    async with client.watch(prefix, prefix=True, start_revision=response.header.revision + 1) as w:
        while (await client.get(prefix, prefix=True, count_only=True)).count < count:
            await w.read(10)


async def handover_async(
    endpoints: list[str], rounds: int, name: str, settle: float
) -> list[float]:
    """resign() -> the waiting candidate's on_elected, asyncio."""
    elected: asyncio.Queue[float] = asyncio.Queue()
    samples: list[float] = []
    async with AsyncClient(endpoints) as c1, AsyncClient(endpoints) as c2:
        elections = [
            c.election(name, ttl=10, on_elected=lambda _: elected.put_nowait(time.perf_counter()))
            for c in (c1, c2)
        ]
        leader, waiting = elections
        await leader.campaign("x")
        await elected.get()
        for _ in range(rounds + 5):
            task = asyncio.ensure_future(waiting.campaign("x"))
            await _wait_candidates(c1, name + "/", 2)
            await asyncio.sleep(settle)
            start = time.perf_counter()
            await leader.resign()
            samples.append(await asyncio.wait_for(elected.get(), 10) - start)
            await task
            leader, waiting = waiting, leader
        for election in elections:
            await election.close()
    return samples[5:]


def handover_threads(endpoints: list[str], rounds: int, name: str, settle: float) -> list[float]:
    """resign() -> the waiting candidate's on_elected, threads (the generated sync API)."""
    elected: queue.SimpleQueue[float] = queue.SimpleQueue()
    samples: list[float] = []
    with Client(endpoints) as c1, Client(endpoints) as c2:
        elections = [
            c.election(name, ttl=10, on_elected=lambda _: elected.put(time.perf_counter()))
            for c in (c1, c2)
        ]
        leader, waiting = elections
        leader.campaign("x")
        elected.get(timeout=10)
        for _ in range(rounds + 5):
            thread = threading.Thread(target=waiting.campaign, args=("x",))
            thread.start()
            _wait_candidates_sync(c1, name + "/", 2)
            time.sleep(settle)
            start = time.perf_counter()
            leader.resign()
            samples.append(elected.get(timeout=10) - start)
            thread.join(10)
            leader, waiting = waiting, leader
        for election in elections:
            election.close()
    return samples[5:]


def _wait_candidates_sync(client: Client, prefix: str, count: int) -> None:
    response = client.get(prefix, prefix=True, count_only=True)
    if response.count >= count:
        return
    with client.watch(prefix, prefix=True, start_revision=response.header.revision + 1) as w:
        while client.get(prefix, prefix=True, count_only=True).count < count:
            w.read(10)


def _lines(proc: subprocess.Popen[str]) -> queue.SimpleQueue[tuple[float, str]]:
    out: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put((time.perf_counter(), line.rstrip("\n")))

    threading.Thread(target=pump, daemon=True).start()
    return out


def handover_etcdctl(
    etcdctl: Path, endpoint: str, rounds: int, name: str, settle: float
) -> list[float]:
    """Go's Election (etcdctl elect): SIGINT to the leader -> the next one prints its key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    argv = [str(etcdctl), f"--endpoints={endpoint}", "elect", name]
    samples: list[float] = []
    client = Client([endpoint])
    leader = subprocess.Popen([*argv, "go"], stdout=subprocess.PIPE, text=True, env=env)
    leader_out = _lines(leader)
    leader_out.get(timeout=10)
    for _ in range(rounds):
        nxt = subprocess.Popen([*argv, "go"], stdout=subprocess.PIPE, text=True, env=env)
        nxt_out = _lines(nxt)
        _wait_candidates_sync(client, name + "/", 2)
        time.sleep(settle)
        start = time.perf_counter()
        leader.send_signal(signal.SIGINT)
        at, _ = nxt_out.get(timeout=10)
        samples.append(at - start)
        leader.wait(10)
        leader, leader_out = nxt, nxt_out
    leader.send_signal(signal.SIGINT)
    leader.wait(10)
    client.close()
    return samples


_HOLDER = """
import sys, time
from etcd_recipes import Client
with Client(sys.argv[1:2]) as c:
    e = c.election(sys.argv[2], ttl=int(sys.argv[3]))
    e.campaign("holder")
    print("elected", flush=True)
    time.sleep(3600)
"""


def sigkill_failover(endpoints: list[str], kills: int, ttl: int, name: str) -> list[float]:
    """SIGKILL of the leader process -> our on_elected (the leader's key expires with its lease)."""
    samples: list[float] = []
    elected: queue.SimpleQueue[float] = queue.SimpleQueue()
    with Client(endpoints) as client:
        for _ in range(kills):
            holder = subprocess.Popen(
                [sys.executable, "-c", _HOLDER, endpoints[0], name, str(ttl)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "elected"
            election = client.election(
                name, ttl=10, on_elected=lambda _: elected.put(time.perf_counter())
            )
            thread = threading.Thread(target=election.campaign, args=("x",))
            thread.start()
            _wait_candidates_sync(client, name + "/", 2)
            start = time.perf_counter()
            holder.kill()
            samples.append(elected.get(timeout=ttl + 10) - start)
            holder.wait(10)
            holder.stdout.close()
            thread.join(10)
            election.close()
    return samples


async def observe_latency(endpoints: list[str], rounds: int, name: str) -> list[float]:
    """proclaim() called -> observe() in another client delivers the value."""
    samples: list[float] = []
    async with AsyncClient(endpoints) as c1, AsyncClient(endpoints) as c2:
        election = c1.election(name, ttl=10)
        await election.campaign("0")
        async with c2.election(name).observe() as changes:
            await changes.read(5)
            for i in range(1, rounds + 6):
                start = time.perf_counter()
                await election.proclaim(str(i))
                leader: LeaderInfo | None = await changes.read(5)
                samples.append(time.perf_counter() - start)
                assert leader is not None and leader.value == str(i).encode()
        await election.close()
    return samples[5:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="hand-overs / observations")
    parser.add_argument("--go-rounds", type=int, default=20, help="etcdctl hand-overs")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILL failovers")
    parser.add_argument("--ttl", type=int, default=1, help="the killed leader's session TTL")
    args = parser.parse_args()
    with EtcdServer(fsync=False) as server:
        ep = server.endpoints
        rows = []
        for settle in SETTLES:
            tag = f"waited {settle:.1f} s"
            a = asyncio.run(handover_async(ep, args.rounds, f"{NAME}/a{settle}", settle))
            t = handover_threads(ep, args.rounds, f"{NAME}/t{settle}", settle)
            rows += [(f"resign -> next on_elected, asyncio, {tag}", a)]
            rows += [(f"resign -> next on_elected, threads, {tag}", t)]
            if server.binary.etcdctl is not None:
                go = handover_etcdctl(
                    server.binary.etcdctl,
                    server.endpoint,
                    args.go_rounds,
                    f"{NAME}/g{settle}",
                    settle,
                )
                rows.append((f"resign -> next elected, Go etcdctl, {tag}", go))
        kills = sigkill_failover(ep, args.kills, args.ttl, NAME + "/k")
        rows.append((f"SIGKILL leader (ttl {args.ttl} s) -> next on_elected", kills))
        rows.append(
            (
                "proclaim() -> observe() delivers",
                asyncio.run(observe_latency(ep, args.rounds, NAME + "/o")),
            )
        )
        print(f"etcd {server.binary.version_string}, loopback, Python {sys.version.split()[0]}")
    print(f"{'measure':<52} {'n':>4} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for label, samples in rows:
        p50, p90, p99, worst = _ms(samples)
        print(f"{label:<52} {len(samples):>4} {p50:>9.2f} {p90:>9.2f} {p99:>9.2f} {worst:>9.2f}")


if __name__ == "__main__":
    main()
