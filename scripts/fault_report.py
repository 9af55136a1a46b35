"""Figures for docs/faults.md: failover time and watch exactness across member kills.

    python scripts/fault_report.py                  # every etcd found, 20 kills each
    python scripts/fault_report.py --kills 5 --binary /usr/bin/etcd --seed 7

For each etcd binary it starts a 3-member cluster (heartbeat 50 ms, election 250 ms, like the
tests), and one ``Client`` on all three members with a per-call ``--timeout``. A writer thread
puts sequentially under one prefix; a watch on that prefix (same client) collects every event.
``--kills`` times, after a random pause, the member the client uses is SIGKILLed, the time until
the writer's next acknowledged put is measured, and the member is restarted. At the end the
events seen are compared with the writer's log: every acknowledged put must appear exactly once,
in revision order; puts whose outcome is unknown may appear (once) or not.

Prints a Markdown table (and ``--json`` the raw numbers).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etcd_recipes import Client, EtcdError
from etcd_recipes.testing import EtcdBinary, EtcdCluster, find_etcd_binaries

PREFIX = "/fault-report/"


class Writer(threading.Thread):
    """Sequential puts until stopped; remembers what was acknowledged and what is unknown."""

    def __init__(self, client: Client, rng: random.Random) -> None:
        super().__init__(name="writer", daemon=True)
        self.client = client
        self.rng = rng
        self.stop = threading.Event()
        self.acked: dict[int, tuple[str, str]] = {}  # revision -> (key, value)
        self.ack_times: list[float] = []
        self.maybe: set[tuple[str, str]] = set()
        self.failed = 0

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            key, value = f"{PREFIX}{i:06d}", str(self.rng.getrandbits(32))
            try:
                response = self.client.put(key, value)
            except EtcdError as error:
                self.failed += 1
                if error.outcome_unknown:
                    self.maybe.add((key, value))
                continue
            self.acked[response.header.revision] = (key, value)
            self.ack_times.append(time.monotonic())


class Collector(threading.Thread):
    """Every event of the watch, in the order delivered."""

    def __init__(self, client: Client) -> None:
        super().__init__(name="watch", daemon=True)
        self.watcher = client.watch(PREFIX, prefix=True).start()
        self.events: list[tuple[int, str, str]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for response in self.watcher:
                for event in response.events:
                    self.events.append((event.revision, event.key.decode(), event.value.decode()))
        except BaseException as error:
            self.error = error


def run(binary: EtcdBinary, kills: int, timeout: float, rng: random.Random) -> dict[str, Any]:
    """One cluster, ``kills`` kills; the figures as a dict."""
    with EtcdCluster(3, binary, heartbeat_ms=50, election_ms=250) as cluster:
        client = Client(cluster.endpoints, timeout=timeout).connect()
        collector = Collector(client)
        collector.start()
        writer = Writer(client, rng)
        writer.start()
        recoveries: list[float] = []
        leaders = 0
        try:
            for _ in range(kills):
                time.sleep(rng.uniform(0.3, 0.6))
                victim = cluster.endpoints.index(client.endpoint)
                leaders += cluster.leader() is cluster[victim]
                cluster.kill(victim)
                killed = time.monotonic()
                while True:  # the first put acknowledged after the kill
                    index = bisect.bisect_left(writer.ack_times, killed)
                    if index < len(writer.ack_times):
                        recoveries.append(writer.ack_times[index] - killed)
                        break
                    if time.monotonic() - killed > 30:
                        raise RuntimeError("no put succeeded within 30 s of a kill")
                    time.sleep(0.001)
                cluster.restart(victim)
            time.sleep(0.3)
        finally:
            writer.stop.set()
            writer.join(10)
        end = client.put(f"{PREFIX}~end", "end", timeout=10).header.revision
        deadline = time.monotonic() + 10
        while not collector.events or collector.events[-1][0] < end:
            if time.monotonic() > deadline or collector.error is not None:
                break
            time.sleep(0.01)
        streams = client._watch_hub.streams_opened
        client.close()
    events = [e for e in collector.events if e[0] != end]
    revisions = [revision for revision, _, _ in events]
    seen: dict[int, tuple[str, str]] = {}
    duplicated = 0
    for revision, key, value in events:
        duplicated += revision in seen
        seen[revision] = (key, value)
    lost = sum(1 for revision, kv in writer.acked.items() if seen.get(revision) != kv)
    unexpected = sum(
        1
        for revision, kv in seen.items()
        if revision not in writer.acked and kv not in writer.maybe
    )
    unknown_applied = sum(1 for kv in seen.values() if kv in writer.maybe)
    return {
        "etcd": binary.version_string,
        "kills": kills,
        "leader_kills": leaders,
        "timeout": timeout,
        "recoveries": recoveries,
        "acked": len(writer.acked),
        "unknown": len(writer.maybe),
        "unknown_applied": unknown_applied,
        "failed": writer.failed,
        "events": len(events),
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": sum(1 for a, b in itertools.pairwise(revisions) if b <= a),
        "unexpected": unexpected,
        "watch_streams": streams,
        "watch_error": repr(collector.error) if collector.error else "",
    }


def table(results: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table."""

    def ms(values: list[float], q: float) -> str:
        ordered = sorted(values)
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"

    lines = [
        "| etcd | kills (of leader) | kill -> next put, ms: min / median / p90 / max | puts acked"
        " | outcome unknown (applied) | events | lost | duplicated | out of order | unexpected"
        " | watch streams |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = r["recoveries"]
        median = statistics.median(rec) * 1000
        lines.append(
            f"| {r['etcd']} | {r['kills']} ({r['leader_kills']}) | {ms(rec, 0)} / {median:.0f}"
            f" / {ms(rec, 0.9)} / {ms(rec, 1.0)} | {r['acked']} | {r['unknown']}"
            f" ({r['unknown_applied']}) | {r['events']} | {r['lost']} | {r['duplicated']}"
            f" | {r['out_of_order']} | {r['unexpected']} | {r['watch_streams']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="member kills per etcd (20)")
    parser.add_argument("--timeout", type=float, default=1.0, help="client per-call timeout")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--binary", action="append", help="etcd executable (repeatable)")
    parser.add_argument("--json", action="store_true", help="also print the raw figures")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    binaries = (
        [EtcdBinary.from_path(path) for path in args.binary]
        if args.binary
        else find_etcd_binaries()
    )
    results = []
    for binary in binaries:
        print(f"etcd {binary.version_string} ({binary.path}) ...", file=sys.stderr)
        results.append(run(binary, args.kills, args.timeout, random.Random(seed)))
    print(
        f"seed {seed}, per-call timeout {args.timeout}s, 3 members, heartbeat 50 ms / election 250 ms"
    )
    print()
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=2))
    bad = any(r["lost"] or r["duplicated"] or r["out_of_order"] or r["unexpected"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
