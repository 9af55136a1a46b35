"""Barriers: a gate released for every waiter, and double barriers whose participants enter and
leave together, in one process and across 5 processes (one of which dies inside).

The worker processes' code is at the end of this file (``worker_main``), so that it exists in
both flavours; ``tests/workers/barrier_worker.py`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from etcd_recipes import (
    AsyncBarrier,
    AsyncClient,
    AsyncDoubleBarrier,
    BarrierFullError,
    BarrierTimeoutError,
    RecipeError,
)
from etcd_recipes._async import _backend as backend

from .helpers import Outcome, wait_count

FLAVOUR = "async_"  # "sync" in the generated twin: the workers run the same flavour as the test
WORKER = Path(__file__).resolve().parents[1] / "workers" / "barrier_worker.py"


async def test_barrier_gate(etcd_async_client: AsyncClient, etcd_key_prefix: str) -> None:
    c = etcd_async_client
    gate = c.barrier(etcd_key_prefix + "gate")
    assert isinstance(gate, AsyncBarrier)
    assert await gate.wait(timeout=1) is True  # open: returns at once
    assert await gate.hold() is True and await gate.hold() is False
    assert await gate.is_held()
    started = time.monotonic()
    assert await gate.wait(timeout=0.2) is False
    assert 0.2 <= time.monotonic() - started < 0.7
    waiters = [Outcome(c.barrier(etcd_key_prefix + "gate").wait, 10) for _ in range(3)]
    assert not any(w.done.is_set() for w in waiters)
    assert await gate.release() is True and await gate.release() is False
    assert [await w.wait() for w in waiters] == [True, True, True]


async def test_barrier_bound_to_a_session_opens_when_it_ends(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    session = await c.session(30).start()
    assert await c.barrier(etcd_key_prefix + "g", session=session).hold()
    waiter = Outcome(c.barrier(etcd_key_prefix + "g").wait, 10)
    await session.close()  # the holder "dies": its lease takes the key along
    assert await waiter.wait() is True


async def test_double_barrier_in_one_process(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    name = etcd_key_prefix + "db"
    first, second, third = (c.double_barrier(name, 3, timeout=10) for _ in range(3))
    assert isinstance(first, AsyncDoubleBarrier)
    entering = [Outcome(first.enter), Outcome(second.enter)]
    await wait_count(c, name + "/waiters/", 2)
    assert not any(e.done.is_set() for e in entering)
    assert await third.enter() is True  # the third one lets everyone in
    assert [await e.wait() for e in entering] == [True, True]
    with pytest.raises(BarrierFullError):
        await c.double_barrier(name, 3).enter()
    with pytest.raises(RecipeError):
        await first.enter()  # already in
    leaving = [Outcome(first.leave), Outcome(second.leave)]
    await wait_count(c, name + "/waiters/", 2)  # the oldest and the third are left
    assert not any(e.done.is_set() for e in leaving)
    assert await third.leave() is True
    assert [await e.wait() for e in leaving] == [True, True]
    assert (await c.get(name + "/", prefix=True)).kvs == ()


async def test_double_barrier_timeouts_clean_up(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    name = etcd_key_prefix + "lonely"
    leases = set(await c.lease.leases())
    started = time.monotonic()
    assert await c.double_barrier(name, 2).enter(timeout=0.2) is False
    assert 0.2 <= time.monotonic() - started < 0.7
    with pytest.raises(BarrierTimeoutError):
        async with c.double_barrier(name, 2, timeout=0.1):
            pass
    assert (await c.get(name + "/", prefix=True)).kvs == ()
    assert set(await c.lease.leases()) <= leases  # no lease left behind
    async with c.double_barrier(name, 1) as alone:  # count 1: in and out at once
        assert alone.key is not None
    assert (await c.get(name + "/", prefix=True)).kvs == ()


# ---------------------------------------------------------------------- across processes


def _start(mode: str, **config: Any) -> subprocess.Popen[str]:
    argv = [sys.executable, str(WORKER), FLAVOUR, mode, json.dumps(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)


def _results(procs: list[subprocess.Popen[str]], timeout: float = 20) -> list[dict[str, Any]]:
    """Each worker's JSON lines (one dict per event), once it has exited."""
    deadline = time.monotonic() + timeout
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        results.append({event["ev"]: event for event in events} | {"code": proc.returncode})
    return results


async def test_barrier_releases_five_processes_one_killed_while_waiting(
    etcd_async_client: AsyncClient, etcd_endpoints: list[str], etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    gate, ready = etcd_key_prefix + "gate", etcd_key_prefix + "ready/"
    assert await c.barrier(gate).hold()
    procs = [_start("wait", endpoints=etcd_endpoints, gate=gate, ready=ready) for _ in range(5)]
    try:
        await wait_count(c, ready, 5)
        procs[0].kill()  # dies while waiting: nobody else cares
        procs[0].wait(5)
        opened = time.monotonic()
        await c.barrier(gate).release()
        results = _results(procs[1:])
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    assert all(r["code"] == 0 and r["done"]["released"] is True for r in results)
    assert all(r["done"]["t"] >= opened for r in results)  # none passed the closed gate


async def test_double_barrier_five_processes_one_dies_inside(
    etcd_async_client: AsyncClient, etcd_endpoints: list[str], etcd_key_prefix: str
) -> None:
    name = etcd_key_prefix + "db"
    procs = [_start("double", endpoints=etcd_endpoints, name=name, die=(i == 0)) for i in range(5)]
    try:
        results = _results(procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    dead, alive = results[0], results[1:]
    assert dead["code"] == 3 and "entered" in dead  # it entered, then died without leaving
    assert all(r["code"] == 0 and r["done"]["left"] is True for r in alive)
    # Nobody got in before everyone arrived, nobody got out before every live one came to leave.
    assert min(r["entered"]["t"] for r in results) >= max(r["entering"]["t"] for r in results)
    assert min(r["done"]["t"] for r in alive) >= max(r["leaving"]["t"] for r in alive)
    assert (await etcd_async_client.get(name + "/", prefix=True)).kvs == ()


# ---------------------------------------------------------------------- the workers' code


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"ev": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


def worker_main(mode: str, config: dict[str, Any]) -> None:
    """Entry point of ``tests/workers/barrier_worker.py``."""
    main = _wait if mode == "wait" else _double
    if backend.IS_ASYNC:
        import asyncio

        asyncio.run(main(config))
    else:
        main(config)


async def _wait(config: dict[str, Any]) -> None:
    """Say we are here (a key under ``ready``), then wait at the gate."""
    async with AsyncClient(config["endpoints"]) as client, client.session(30) as session:
        await client.put(f"{config['ready']}{os.getpid()}", "", lease=session.lease_id)
        released = await client.barrier(config["gate"]).wait(timeout=20)
    _emit("done", released=released)


async def _double(config: dict[str, Any]) -> None:
    """Enter a double barrier of 5; leave it (or, with ``die``, die inside)."""
    async with AsyncClient(config["endpoints"]) as client:
        # Only the one that dies needs a short lease (so the others are not held up long): a
        # 1 s lease on the live ones could expire on a loaded 2-core machine and fail them.
        barrier = client.double_barrier(config["name"], 5, ttl=1 if config["die"] else 10)
        _emit("entering")
        assert await barrier.enter(timeout=20)
        _emit("entered")
        if config["die"]:
            os._exit(3)  # no cleanup: its lease expires, and the others must go on
        _emit("leaving")
        left = await barrier.leave(timeout=20)
    _emit("done", left=left)
