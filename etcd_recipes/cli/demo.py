"""The demo: Go's clientv3 walkthrough, in Python, against an etcd started for it.

python -m etcd_recipes demo [--endpoints HOST:PORT]   # default: an embedded etcd
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .. import Client, Compare, EventType, Op
from ..testing import EtcdServer


def step(title: str) -> None:
    """Print a section heading."""
    print(f"\n== {title}")


@contextmanager
def _etcd(endpoints: str | None) -> Iterator[list[str]]:
    if endpoints:
        yield endpoints.split(",")
        return
    with EtcdServer(fsync=False) as server:
        print(f"embedded etcd {'.'.join(map(str, server.version))} at {server.endpoint}")
        yield server.endpoints


def walkthrough(client: Client) -> None:
    """Put/get/delete, prefixes, leases, the /hi transaction and a watch, printed as we go."""
    step("put, get, delete")
    client.put("/demo/greeting", "hello")
    print("get /demo/greeting ->", client.get("/demo/greeting").value)
    print("deleted:", client.delete("/demo/greeting").deleted)

    step("prefix get")
    for name in ("a", "b", "c"):
        client.put(f"/demo/fruit/{name}", name * 3)
    for kv in client.get("/demo/fruit/", prefix=True).kvs:
        print(f"  {kv.key.decode()} = {kv.value.decode()}")

    step("a lease that expires its key")
    lease = client.lease.grant(1)
    print(f"granted lease {lease.id:#x} with ttl {lease.ttl}s")
    rev = client.put("/demo/ephemeral", "bye soon", lease=lease).header.revision
    with client.watch("/demo/ephemeral", start_revision=rev + 1) as watcher:
        started = time.monotonic()
        event = watcher.read(timeout=lease.ttl + 5).events[0]
        print(f"  {event.type.name} /demo/ephemeral after {time.monotonic() - started:.1f}s")

    step("a lease kept alive")
    with client.lease.grant(1) as kept:
        kept.keep_alive()
        client.put("/demo/alive", "still here", lease=kept)
        time.sleep(kept.ttl + 1.0)  # outlive the TTL once: the keep-alive holds the key
        print(f"  after {kept.ttl + 1.0:.0f}s:", client.get("/demo/alive").value)

    step("If/Then/Else on /hi")
    client.put("/test/x", "from the else branch")
    for value in ("hello", "bye"):
        client.put("/hi", value)
        txn = (
            client.txn()
            .if_(Compare.value("/hi") == "hello")
            .then(Op.get("/hi"))
            .else_(Op.get("/test/", prefix=True))
        )
        result = txn.commit()
        got = result.responses[0]
        values = [kv.value.decode() for kv in getattr(got, "kvs", ())]
        print(f"  /hi={value!r}: succeeded={result.succeeded} -> {values}")

    step("watch /job/v3/1 with prev_kv")
    with client.watch("/job/v3/1", prev_kv=True) as watcher:
        client.put("/job/v3/1", "v1")
        client.put("/job/v3/1", "v2")
        client.delete("/job/v3/1")
        seen = 0
        while seen < 3:
            for event in watcher.read(timeout=5).events:
                seen += 1
                prev = event.prev_kv.value if event.prev_kv else None
                now = event.value if event.type is EventType.PUT else b""
                print(f"  {event.type.name} {event.key.decode()} {prev!r} -> {now!r}")


def recipes(client: Client) -> None:
    """A lock with its fencing token, and a leader election handed over on resign."""
    step("a lock with a fencing token (Go/etcdctl-compatible keys)")
    counter = "/demo/guarded-counter"
    client.put(counter, "0")
    with client.lock("/demo/lock", ttl=5) as lock:
        print(f"  holding {lock.key!r}, fencing token {lock.fencing_token}")
        guarded = lock.guard().then(Op.put(counter, "1")).commit()
        print(f"  write guarded by the lock applied: {guarded.succeeded}")
    print("  locked after release:", client.lock("/demo/lock").locked())

    step("leader election: campaign, observe, resign, hand-over")
    first = client.election("/demo/election", ttl=5)
    second = client.election("/demo/election", ttl=5)
    with first.observe() as changes:
        info = first.campaign("node-1")
        print(f"  node-1 elected, term {info.term}")
        waiter = threading.Thread(target=second.campaign, args=("node-2",), daemon=True)
        waiter.start()
        first.resign()
        waiter.join(10)
        now = second.leader()
        print(f"  after resign, leader is {now.value.decode() if now else None}")
        for _ in range(5):
            leader = changes.read(timeout=5)
            print("  observed:", leader.value.decode() if leader else "no leader")
            if leader is not None and leader.value == b"node-2":
                break
    second.close()
    first.close()


def main(argv: list[str] | None = None) -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(prog="python -m etcd_recipes demo")
    parser.add_argument("--endpoints", help="use this etcd instead of starting one")
    args = parser.parse_args(argv)
    with _etcd(args.endpoints) as endpoints, Client(endpoints) as client:
        walkthrough(client)
        recipes(client)
    print("\ndemo finished")
    return 0
