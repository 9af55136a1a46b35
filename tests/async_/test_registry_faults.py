"""Service registry under faults: instances in other processes that are killed, stopped or
paused, and caches across member kills and a leader pause on a 3-member cluster."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etcd_recipes import (
    AsyncClient,
    AsyncServiceRegistration,
    RegistrationState,
    ServiceEvent,
    ServiceEventType,
)
from etcd_recipes._async import _backend as backend
from etcd_recipes.testing import EtcdCluster

FLAVOUR = "async_"  # "sync" in the generated twin
WORKER = Path(__file__).resolve().parents[1] / "workers" / "registry_worker.py"
TTL = 2  # etcd grants at least 1 s; 2 s leaves room for a loaded CI machine
START = 30.0  # bound for worker processes to start and register (imports take ~0.5 s)


# ------------------------------------------------------------------ the worker process


def worker_main(config: dict[str, Any]) -> None:
    """Entry point of ``tests/workers/registry_worker.py``."""
    result = _worker(config)
    if inspect.iscoroutine(result):  # the asyncio flavour
        import asyncio

        asyncio.run(result)


def _emit(ev: str, instance_id: str = "") -> None:
    print(json.dumps({"ev": ev, "id": instance_id, "t": time.monotonic()}), flush=True)


async def _worker(config: dict[str, Any]) -> None:
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    async with AsyncClient(config["endpoints"]) as client:
        registry = client.registry(config["namespace"], ttl=config["ttl"])
        handles = []
        for n, instance_id in enumerate(config["ids"]):
            handle = registry.registration(
                "api",
                instance_id,
                address="127.0.0.1",
                port=9000 + n,
                metadata={"pid": os.getpid()},
            )
            handle.add_listener(lambda reg, state: _emit(state.value, reg.id))
            handles.append(await handle.start())
        _emit("ready")
        while not stopping:  # a signal flag has nothing to await; 20 ms keeps exit prompt
            await backend.sleep(0.02)
        for handle in handles:
            await handle.deregister()
        _emit("done")


class Worker:
    """A registry worker process; its output goes to a file read after it ends."""

    def __init__(self, tmp_path: Path, name: str, config: dict[str, Any]) -> None:
        self.log = tmp_path / f"{name}.jsonl"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER), FLAVOUR, json.dumps(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def events(self, instance_id: str | None = None) -> list[str]:
        found = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                item = json.loads(line)
                if instance_id is None or item["id"] == instance_id:
                    found.append(item["ev"])
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text()


def worker_config(endpoints: list[str], namespace: str, ids: list[str]) -> dict[str, Any]:
    return {"endpoints": endpoints, "namespace": namespace, "ids": ids, "ttl": TTL}


def gone(ids: list[str]) -> Callable[[Any], bool]:
    return lambda table: not set(ids) & set(table)


# ------------------------------------------------------------------ processes


async def test_instances_follow_their_processes(
    etcd_async_client: AsyncClient, etcd_endpoints: list[str], etcd_key_prefix: str, tmp_path: Path
) -> None:
    """20 instances in 4 processes reach two caches; SIGKILL removes a process's instances
    within ttl + 1 s, a graceful exit (SIGTERM) at once; nobody else is removed."""
    ids = [[f"p{p}-i{i}" for i in range(5)] for p in range(4)]
    everyone = {i for group in ids for i in group}
    workers = [
        Worker(tmp_path, f"p{p}", worker_config(etcd_endpoints, etcd_key_prefix, ids[p]))
        for p in range(4)
    ]
    removed: list[str] = []
    other = AsyncClient(etcd_endpoints)
    try:
        async with (
            etcd_async_client.registry(etcd_key_prefix).cache("api") as cache,
            other.registry(etcd_key_prefix).cache("api") as cache2,
        ):
            cache.add_listener(
                lambda e: (
                    removed.append(e.instance.id) if e.type is ServiceEventType.REMOVED else None
                )
            )
            for each in (cache, cache2):
                converged = await each.wait_until(lambda t: set(t) == everyone, START)
                assert converged, [w.output() for w in workers]
            assert {i.port for i in cache.instances()} == {9000, 9001, 9002, 9003, 9004}

            start = time.monotonic()
            workers[0].proc.kill()
            for each in (cache, cache2):
                assert await each.wait_until(gone(ids[0]), TTL + 1.0)
            assert time.monotonic() - start <= TTL + 1.0

            start = time.monotonic()
            workers[1].proc.terminate()
            for each in (cache, cache2):
                assert await each.wait_until(gone(ids[1]), 1.0), "a graceful exit is not prompt"
            graceful = time.monotonic() - start
            assert workers[1].proc.wait(10) == 0, workers[1].output()
            assert graceful < TTL / 2, f"graceful removal took {graceful:.2f} s"
            assert workers[1].events("p1-i0") == ["registered", "deregistered"]

            assert sorted(removed) == sorted(ids[0] + ids[1])
            assert {i.id for i in cache.instances()} == set(ids[2] + ids[3])
            assert cache.instances() == cache2.instances()
    finally:
        for worker in workers:
            worker.stop()
        await other.close()


async def test_paused_instance_is_removed_and_re_registers(
    etcd_async_client: AsyncClient, etcd_endpoints: list[str], etcd_key_prefix: str, tmp_path: Path
) -> None:
    """SIGSTOP past the TTL: etcd drops the instance; after SIGCONT it registers again."""
    worker = Worker(tmp_path, "paused", worker_config(etcd_endpoints, etcd_key_prefix, ["z"]))
    events: list[tuple[str, int]] = []
    try:
        async with etcd_async_client.registry(etcd_key_prefix).cache("api") as cache:
            cache.add_listener(lambda e: events.append((e.type.value, e.instance.lease)))
            assert await cache.wait_until(lambda t: "z" in t, START), worker.output()
            first = cache.get("z")
            assert first is not None

            worker.proc.send_signal(signal.SIGSTOP)
            assert await cache.wait_until(lambda t: "z" not in t, TTL + 1.5)
            worker.proc.send_signal(signal.SIGCONT)
            assert await cache.wait_until(lambda t: "z" in t, 5.0), worker.output()
            again = cache.get("z")
            assert again is not None and again.lease != first.lease
            assert again.registered_at > first.registered_at
            assert events == [
                ("added", first.lease),
                ("removed", first.lease),
                ("added", again.lease),
            ]

            worker.proc.terminate()
            assert worker.proc.wait(10) == 0, worker.output()
            assert await cache.wait_until(lambda t: "z" not in t, 1.0)
            assert worker.events("z") == ["registered", "lost", "registered", "deregistered"]
    finally:
        worker.stop()


# ------------------------------------------------------------------ cluster faults


async def blocking(func: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking harness call without stalling the event loop (a plain call when sync)."""
    if backend.IS_ASYNC:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, func, *args)
    return func(*args)


@pytest.mark.cluster
async def test_no_false_removal_across_member_kill_and_leader_pause(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str
) -> None:
    """Instances registered through clients on every member and two caches (one on the member
    that is killed, one on the leader that is paused): only the instance deregistered on
    purpose is ever removed, and each cache ends equal to a fresh read."""
    cluster = etcd_cluster
    cluster.wait_ready()
    leader = cluster.members.index(cluster.leader())
    victim = (leader + 1) % 3
    # Keepalive pings of 1 s + 1 s notice a paused member in ~2 s; the TTL must exceed that
    # plus the last refresh's age (ttl / 3) plus an election, hence 5 s. (etcd refuses pings
    # more often than every 5 s only on quiet connections; lease refreshes keep these busy.)
    ttl = 5
    endpoints = cluster.endpoints
    first_on = [leader, victim, (leader + 2) % 3]
    clients = [
        AsyncClient(endpoints[i:] + endpoints[:i], keepalive_time=1.0, keepalive_timeout=1.0)
        for i in first_on
    ]
    removed: list[str] = []
    lost: list[str] = []
    handles: list[AsyncServiceRegistration] = []
    try:
        registries = [c.registry(etcd_key_prefix, ttl=ttl) for c in clients]
        for n in range(6):
            handle = registries[n % 3].registration("api", f"i{n}", address="h", port=7000 + n)
            handle.add_listener(
                lambda r, s: lost.append(r.id) if s is RegistrationState.LOST else None
            )
            handles.append(await handle.start())
        on_leader = registries[0].cache("api")  # clients[0] talks to the leader
        on_victim = registries[1].cache("api")
        caches = (on_leader, on_victim)

        def note(event: ServiceEvent) -> None:
            if event.type is ServiceEventType.REMOVED:
                removed.append(event.instance.id)

        for cache in caches:
            cache.add_listener(note)
            await cache.start()
            assert await cache.wait_until(lambda t: len(t) == 6, 5.0)

        # 1. Kill the member the second cache watches through; change things meanwhile.
        await blocking(cluster.kill, victim)
        await handles[0].update({"during": "kill"})
        late = await registries[2].register("api", "late", address="h")
        assert await handles[5].deregister()
        await blocking(cluster.heal)

        # 2. Pause the leader (the first cache's member) past the clients' ping timeout, and
        # change an instance through a member that stays up once a new leader is elected (a
        # write sent to the paused leader would wait for etcd's 5 s request timeout).
        paused_at = backend.monotonic()
        await blocking(cluster.pause, leader)
        await blocking(cluster.leader)
        await handles[2].update({"during": "pause"})
        await backend.sleep(2.5 - (backend.monotonic() - paused_at))  # the fault's duration
        await blocking(cluster.resume, leader)
        await blocking(cluster.heal)

        fresh = {i.id: i for i in await registries[2].instances("api")}
        assert set(fresh) == {"i0", "i1", "i2", "i3", "i4", "late"}
        for cache in caches:
            assert await cache.wait_until(lambda t: t == fresh, 10.0), cache.instances()
        assert removed == ["i5", "i5"], f"removed {removed}, lost leases {lost}"
        assert lost == []
        assert fresh["i0"].metadata["during"] == "kill"
        assert fresh["i2"].metadata["during"] == "pause"
        await late.deregister()
        for cache in caches:
            await cache.close()
    finally:
        for handle in handles:
            await handle.deregister()
        for client in clients:
            await client.close()
        await blocking(cluster.heal)
