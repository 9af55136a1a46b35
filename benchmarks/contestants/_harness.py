"""The worker side of the benchmark protocol: standard library only, imported by every Python
contestant's worker script (each runs in its own virtual environment).

Protocol (JSON lines on stdin/stdout; stdout carries nothing else):

    worker -> runner   {"ready": true, "info": {...versions...}}
    runner -> worker   {"cmd": "run", "workload": "put_seq", "params": {...}}
    worker -> runner   {"ok": true, "metrics": {...}}
                     | {"ok": false, "na": "why this contestant cannot do it"}
                     | {"ok": false, "error": "traceback"}
    runner -> worker   {"cmd": "quit"}

A contestant is an *adapter*: a small class with the verbs the workloads need (``put``, ``get``,
``range_count``, ``cas``, ``watch_prefix``, ``lease_*``, ``lock_*``, ``candidate``). Every
workload is written once here, for threads (sync adapters) and for asyncio tasks (async
adapters), so all contestants run exactly the same loop around their own calls. A verb an
adapter lacks makes the workload "n/a" with the adapter's reason (``NA`` dict) -- never a silent
drop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

VALUE = b"v" * 100  # 100-byte values everywhere


class NotAvailable(Exception):
    """Raised by an adapter (or the harness) when a workload cannot run on this contestant."""


# --------------------------------------------------------------------------- helpers


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def cpu_seconds() -> float:
    """User + system CPU of this whole process (all threads, including gRPC's C threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    /proc/self/status VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve from
    the forked parent, so every worker would report at least the runner's own RSS."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stamped_value(seq: int) -> bytes:
    """A 100-byte value that carries the wall-clock ns at which it was written (for watch latency)."""
    head = b"%019d:%09d:" % (time.time_ns(), seq)
    return head + b"w" * (100 - len(head))


def na_reason(adapter: Any, workload: str, verb: str) -> str:
    reasons = getattr(adapter, "NA", {})
    return reasons.get(workload) or reasons.get(verb) or f"no {verb} in this client"


def require(adapter: Any, workload: str, *verbs: str) -> None:
    for verb in verbs:
        if not callable(getattr(adapter, verb, None)):
            raise NotAvailable(na_reason(adapter, workload, verb))
    reasons = getattr(adapter, "NA", {})
    if workload in reasons:
        raise NotAvailable(reasons[workload])


def summarize_latencies(lat_s: list[float], wall: float) -> dict[str, float]:
    return {
        "p50_ms": pct(lat_s, 50) * 1e3,
        "p99_ms": pct(lat_s, 99) * 1e3,
        "mean_ms": sum(lat_s) / len(lat_s) * 1e3,
        "ops_s": len(lat_s) / wall if wall > 0 else 0.0,
        "n": len(lat_s),
    }


def watch_metrics(
    recv_ns: list[int], values: list[bytes], cpu: float, expected: int, t_first_put_ns: int
) -> dict[str, float]:
    """Put-to-event latency from the wall-clock stamp in each value, events/s, CPU per event."""
    n = len(recv_ns)
    if n == 0:
        raise RuntimeError("no watch event was delivered")
    lat = []
    for got, value in zip(recv_ns, values, strict=False):
        try:
            sent = int(value[:19])
        except ValueError:
            continue
        lat.append((got - sent) / 1e9)
    span = (recv_ns[-1] - t_first_put_ns) / 1e9 if t_first_put_ns else 0.0
    return {
        "events": n,
        "missing": max(0, expected - n),
        "events_s": n / span if span > 0 else 0.0,
        "lat_p50_ms": pct(lat, 50) * 1e3,
        "lat_p99_ms": pct(lat, 99) * 1e3,
        "cpu_us_per_event": cpu / n * 1e6,
    }


# --------------------------------------------------------------------------- sync workloads


def _sync_seq(op: Callable[[], Any], n: int, max_s: float, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        op()
    lat: list[float] = []
    perf = time.perf_counter
    start = perf()
    deadline = start + max_s
    for _ in range(n):
        t0 = perf()
        op()
        t1 = perf()
        lat.append(t1 - t0)
        if t1 > deadline:
            break
    return summarize_latencies(lat, perf() - start)


def _sync_throughput(
    make_op: Callable[[int], Callable[[], Any]], conc: int, warmup: float, duration: float
) -> dict[str, float]:
    counts = [0] * conc
    errors: list[BaseException] = []
    stop = threading.Event()
    ready = threading.Barrier(conc + 1)

    def worker(i: int) -> None:
        op = make_op(i)
        try:
            ready.wait()
            n = 0
            while not stop.is_set():
                op()
                n += 1
                counts[i] = n
        except BaseException as error:
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(conc)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(warmup)
    c0, t0, cpu0 = sum(counts), time.perf_counter(), cpu_seconds()
    time.sleep(duration)
    c1, t1, cpu1 = sum(counts), time.perf_counter(), cpu_seconds()
    stop.set()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    ops = c1 - c0
    return {"ops_s": ops / (t1 - t0), "cpu_us_per_op": (cpu1 - cpu0) / max(ops, 1) * 1e6}


def run_sync(adapter: Any, workload: str, p: dict[str, Any]) -> dict[str, Any]:
    extra = getattr(adapter, "extra_" + workload, None)
    if extra is not None:
        return extra(p)  # type: ignore[no-any-return]
    tag = p["tag"].encode()
    if workload == "put_seq":
        require(adapter, workload, "put")
        key = b"/bench/seq/" + tag
        return _sync_seq(lambda: adapter.put(key, VALUE), p["n"], p["max_s"], p["warmup_n"])
    if workload == "get_seq":
        require(adapter, workload, "get")
        key = p["get_key"].encode()
        return _sync_seq(lambda: adapter.get(key), p["n"], p["max_s"], p["warmup_n"])
    if workload in ("put_tp", "get_tp", "txn_tp"):
        verb = {"put_tp": "put", "get_tp": "get", "txn_tp": "cas"}[workload]
        require(adapter, workload, verb)
        if workload == "put_tp":

            def make_op(i: int) -> Callable[[], Any]:
                key = b"/bench/tp/%s/%d" % (tag, i)
                put = adapter.put
                return lambda: put(key, VALUE)

        elif workload == "get_tp":
            key = p["get_key"].encode()

            def make_op(i: int) -> Callable[[], Any]:
                get = adapter.get
                return lambda: get(key)

        else:

            def make_op(i: int) -> Callable[[], Any]:
                key = b"/bench/cas/%s/%d" % (tag, i)
                adapter.put(key, b"0")
                state = [0]
                cas = adapter.cas

                def op() -> None:
                    old = b"%d" % state[0]
                    new = b"%d" % (state[0] + 1)
                    if not cas(key, old, new):
                        raise RuntimeError(f"compare-and-swap failed on {key!r}")
                    state[0] += 1

                return op

        return _sync_throughput(make_op, p["conc"], p["warmup_s"], p["duration_s"])
    if workload == "range":
        require(adapter, workload, "range_count")
        prefix = p["range_prefix"].encode()
        expected = p["range_keys"]
        lat: list[float] = []
        start = time.perf_counter()
        for i in range(p["n"] + 1):
            t0 = time.perf_counter()
            got = adapter.range_count(prefix)
            t1 = time.perf_counter()
            if got != expected:
                raise RuntimeError(f"range returned {got} keys, expected {expected}")
            if i:  # the first one warms up
                lat.append(t1 - t0)
            if t1 - start > p["max_s"] and len(lat) >= 3:
                break
        return summarize_latencies(lat, time.perf_counter() - start)
    if workload == "watch":
        require(adapter, workload, "watch_prefix")
        return _sync_watch(adapter, p)
    if workload == "lease":
        require(adapter, workload, "lease_grant", "lease_keepalive", "lease_revoke")
        return _sync_lease(adapter, p)
    if workload == "lock_uncontended":
        require(adapter, workload, "lock_acquire", "lock_release")
        name = "bench-lock-u-" + p["tag"]
        acquire, release = adapter.lock_acquire, adapter.lock_release
        n = 0
        start = time.perf_counter()
        end = start + p["duration_s"]
        while True:
            release(acquire(name))
            n += 1
            if time.perf_counter() >= end:
                break
        return {"cycles_s": n / (time.perf_counter() - start)}
    if workload == "lock_contend":
        require(adapter, workload, "lock_acquire", "lock_release")
        return _sync_contend(adapter, p)
    if workload == "election":
        require(adapter, workload, "candidate")
        return _sync_election(adapter, p)
    raise NotAvailable(f"unknown workload {workload}")


def _sync_watch(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    prefix = p["watch_prefix"].encode()
    expected = p["watch_events"]
    recv: list[int] = []
    vals: list[bytes] = []
    done = threading.Event()
    now = time.time_ns

    def sink(value: bytes) -> None:
        recv.append(now())
        vals.append(value)
        if len(recv) >= expected:
            done.set()

    stop = adapter.watch_prefix(prefix, sink)
    try:
        emit({"event": "watching"})
        cpu0 = cpu_seconds()
        start_line = sys.stdin.readline()  # the runner says when the writer started
        t_first = json.loads(start_line).get("first_put_ns", 0)
        done.wait(p["timeout_s"])
        cpu1 = cpu_seconds()
    finally:
        try:
            stop()
        except Exception:
            pass
    metrics = watch_metrics(recv, vals, cpu1 - cpu0, expected, t_first)
    metrics["peak_rss_mb"] = peak_rss_mb()
    return metrics


def _sync_lease(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    count, ttl, conc = p["leases"], p["ttl"], p["grant_conc"]
    leases: list[Any] = [None] * count
    nxt = [0]
    lock = threading.Lock()

    def granter() -> None:
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= count:
                return
            leases[i] = adapter.lease_grant(ttl)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=granter, daemon=True) for _ in range(conc)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    grant_s = count / (time.perf_counter() - t0)
    if any(lease is None for lease in leases):
        raise RuntimeError("a lease grant failed")
    cpu0 = cpu_seconds()
    stop = adapter.lease_keepalive(leases)
    time.sleep(p["hold_s"])
    cpu = cpu_seconds() - cpu0
    ids = [adapter.lease_id(lease) for lease in leases]
    emit({"event": "check", "ids": ids})  # the runner counts the live ones
    sys.stdin.readline()
    stop()
    t1 = time.perf_counter()
    nxt[0] = 0

    def revoker() -> None:
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= count:
                return
            adapter.lease_revoke(leases[i])

    threads = [threading.Thread(target=revoker, daemon=True) for _ in range(conc)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "grants_s": grant_s,
        "revokes_s": count / (time.perf_counter() - t1),
        "ka_cpu_pct": cpu / p["hold_s"] * 100.0,
        "peak_rss_mb": peak_rss_mb(),
    }


def _sync_contend(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    name = p["lock_name"]
    acquire, release = adapter.lock_acquire, adapter.lock_release
    # Warm the connection, then start together with the other processes.
    release(acquire(name + "-warm"))
    delay = p["start_at_ns"] - time.time_ns()
    if delay > 0:
        time.sleep(delay / 1e9)
    end = p["start_at_ns"] + int(p["duration_s"] * 1e9)
    spans = []
    while time.time_ns() < end:
        token = acquire(name)
        t_acq = time.time_ns()
        t_rel = time.time_ns()
        release(token)
        spans.append((t_acq, t_rel))
    return {"spans": spans}


def _sync_election(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    name = "bench-election-" + p["tag"]
    a = adapter.candidate(name, b"a")
    b = adapter.candidate(name, b"b")
    a.campaign()
    leader, waiter = a, b
    lat = []
    for _ in range(p["n"]):
        elected = threading.Event()
        stamp = [0.0]

        def campaign(
            c: Any = waiter, stamp: list[float] = stamp, elected: threading.Event = elected
        ) -> None:
            c.campaign()
            stamp[0] = time.perf_counter()
            elected.set()

        thread = threading.Thread(target=campaign, daemon=True)
        thread.start()
        time.sleep(p["settle_s"])
        if elected.is_set():
            raise RuntimeError("a second candidate was elected while the leader held office")
        t0 = time.perf_counter()
        leader.resign()
        if not elected.wait(p["timeout_s"]):
            raise RuntimeError("no new leader after resign")
        lat.append(stamp[0] - t0)
        thread.join()
        leader, waiter = waiter, leader
    leader.resign()
    for c in (a, b):
        close = getattr(c, "close", None)
        if close:
            close()
    return {"p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3, "n": len(lat)}


# --------------------------------------------------------------------------- async workloads


async def _async_seq(op: Callable[[], Any], n: int, max_s: float, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await op()
    lat: list[float] = []
    perf = time.perf_counter
    start = perf()
    deadline = start + max_s
    for _ in range(n):
        t0 = perf()
        await op()
        t1 = perf()
        lat.append(t1 - t0)
        if t1 > deadline:
            break
    return summarize_latencies(lat, perf() - start)


async def _async_throughput(
    make_op: Callable[[int], Any], conc: int, warmup: float, duration: float
) -> dict[str, float]:
    counts = [0] * conc
    stop = [False]

    async def worker(i: int) -> None:
        op = await make_op(i)
        n = 0
        while not stop[0]:
            await op()
            n += 1
            counts[i] = n

    tasks = [asyncio.ensure_future(worker(i)) for i in range(conc)]
    try:
        await asyncio.sleep(warmup)
        c0, t0, cpu0 = sum(counts), time.perf_counter(), cpu_seconds()
        await asyncio.sleep(duration)
        c1, t1, cpu1 = sum(counts), time.perf_counter(), cpu_seconds()
        stop[0] = True
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        stop[0] = True
        for task in tasks:
            task.cancel()
    ops = c1 - c0
    return {"ops_s": ops / (t1 - t0), "cpu_us_per_op": (cpu1 - cpu0) / max(ops, 1) * 1e6}


async def run_async(adapter: Any, workload: str, p: dict[str, Any]) -> dict[str, Any]:
    extra = getattr(adapter, "extra_" + workload, None)
    if extra is not None:
        return await extra(p)  # type: ignore[no-any-return]
    tag = p["tag"].encode()
    if workload == "put_seq":
        require(adapter, workload, "put")
        key = b"/bench/seq/" + tag
        return await _async_seq(lambda: adapter.put(key, VALUE), p["n"], p["max_s"], p["warmup_n"])
    if workload == "get_seq":
        require(adapter, workload, "get")
        key = p["get_key"].encode()
        return await _async_seq(lambda: adapter.get(key), p["n"], p["max_s"], p["warmup_n"])
    if workload in ("put_tp", "get_tp", "txn_tp"):
        verb = {"put_tp": "put", "get_tp": "get", "txn_tp": "cas"}[workload]
        require(adapter, workload, verb)
        if workload == "put_tp":

            async def make_op(i: int) -> Any:
                key = b"/bench/tp/%s/%d" % (tag, i)
                put = adapter.put
                return lambda: put(key, VALUE)

        elif workload == "get_tp":
            key = p["get_key"].encode()

            async def make_op(i: int) -> Any:
                get = adapter.get
                return lambda: get(key)

        else:

            async def make_op(i: int) -> Any:
                key = b"/bench/cas/%s/%d" % (tag, i)
                await adapter.put(key, b"0")
                state = [0]
                cas = adapter.cas

                async def op() -> None:
                    old = b"%d" % state[0]
                    new = b"%d" % (state[0] + 1)
                    if not await cas(key, old, new):
                        raise RuntimeError(f"compare-and-swap failed on {key!r}")
                    state[0] += 1

                return op

        return await _async_throughput(make_op, p["conc"], p["warmup_s"], p["duration_s"])
    if workload == "range":
        require(adapter, workload, "range_count")
        prefix = p["range_prefix"].encode()
        expected = p["range_keys"]
        lat: list[float] = []
        start = time.perf_counter()
        for i in range(p["n"] + 1):
            t0 = time.perf_counter()
            got = await adapter.range_count(prefix)
            t1 = time.perf_counter()
            if got != expected:
                raise RuntimeError(f"range returned {got} keys, expected {expected}")
            if i:
                lat.append(t1 - t0)
            if t1 - start > p["max_s"] and len(lat) >= 3:
                break
        return summarize_latencies(lat, time.perf_counter() - start)
    if workload == "watch":
        require(adapter, workload, "watch_prefix")
        return await _async_watch(adapter, p)
    if workload == "lease":
        require(adapter, workload, "lease_grant", "lease_keepalive", "lease_revoke")
        return await _async_lease(adapter, p)
    if workload == "lock_uncontended":
        require(adapter, workload, "lock_acquire", "lock_release")
        name = "bench-lock-u-" + p["tag"]
        acquire, release = adapter.lock_acquire, adapter.lock_release
        n = 0
        start = time.perf_counter()
        end = start + p["duration_s"]
        while True:
            await release(await acquire(name))
            n += 1
            if time.perf_counter() >= end:
                break
        return {"cycles_s": n / (time.perf_counter() - start)}
    if workload == "lock_contend":
        require(adapter, workload, "lock_acquire", "lock_release")
        return await _async_contend(adapter, p)
    if workload == "election":
        require(adapter, workload, "candidate")
        return await _async_election(adapter, p)
    raise NotAvailable(f"unknown workload {workload}")


async def _readline() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def _async_watch(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    prefix = p["watch_prefix"].encode()
    expected = p["watch_events"]
    recv: list[int] = []
    vals: list[bytes] = []
    done = asyncio.Event()
    now = time.time_ns

    def sink(value: bytes) -> None:
        recv.append(now())
        vals.append(value)
        if len(recv) >= expected:
            done.set()

    stop = await adapter.watch_prefix(prefix, sink)
    try:
        emit({"event": "watching"})
        cpu0 = cpu_seconds()
        t_first = json.loads(await _readline()).get("first_put_ns", 0)
        try:
            await asyncio.wait_for(done.wait(), p["timeout_s"])
        except asyncio.TimeoutError:
            pass
        cpu1 = cpu_seconds()
    finally:
        try:
            await stop()
        except Exception:
            pass
    metrics = watch_metrics(recv, vals, cpu1 - cpu0, expected, t_first)
    metrics["peak_rss_mb"] = peak_rss_mb()
    return metrics


async def _async_lease(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    count, ttl, conc = p["leases"], p["ttl"], p["grant_conc"]
    leases: list[Any] = [None] * count
    nxt = [0]

    async def granter() -> None:
        while nxt[0] < count:
            i = nxt[0]
            nxt[0] += 1
            leases[i] = await adapter.lease_grant(ttl)

    t0 = time.perf_counter()
    await asyncio.gather(*(granter() for _ in range(conc)))
    grant_s = count / (time.perf_counter() - t0)
    cpu0 = cpu_seconds()
    stop = await adapter.lease_keepalive(leases)
    await asyncio.sleep(p["hold_s"])
    cpu = cpu_seconds() - cpu0
    emit({"event": "check", "ids": [adapter.lease_id(lease) for lease in leases]})
    await _readline()
    await stop()
    t1 = time.perf_counter()
    nxt[0] = 0

    async def revoker() -> None:
        while nxt[0] < count:
            i = nxt[0]
            nxt[0] += 1
            await adapter.lease_revoke(leases[i])

    await asyncio.gather(*(revoker() for _ in range(conc)))
    return {
        "grants_s": grant_s,
        "revokes_s": count / (time.perf_counter() - t1),
        "ka_cpu_pct": cpu / p["hold_s"] * 100.0,
        "peak_rss_mb": peak_rss_mb(),
    }


async def _async_contend(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    name = p["lock_name"]
    acquire, release = adapter.lock_acquire, adapter.lock_release
    await release(await acquire(name + "-warm"))
    delay = p["start_at_ns"] - time.time_ns()
    if delay > 0:
        await asyncio.sleep(delay / 1e9)
    end = p["start_at_ns"] + int(p["duration_s"] * 1e9)
    spans = []
    while time.time_ns() < end:
        token = await acquire(name)
        t_acq = time.time_ns()
        t_rel = time.time_ns()
        await release(token)
        spans.append((t_acq, t_rel))
    return {"spans": spans}


async def _async_election(adapter: Any, p: dict[str, Any]) -> dict[str, Any]:
    name = "bench-election-" + p["tag"]
    a = await adapter.candidate(name, b"a")
    b = await adapter.candidate(name, b"b")
    await a.campaign()
    leader, waiter = a, b
    lat = []
    for _ in range(p["n"]):
        stamp = [0.0]

        async def campaign(c: Any = waiter, stamp: list[float] = stamp) -> None:
            await c.campaign()
            stamp[0] = time.perf_counter()

        task = asyncio.ensure_future(campaign())
        await asyncio.sleep(p["settle_s"])
        if task.done():
            task.result()
            raise RuntimeError("a second candidate was elected while the leader held office")
        t0 = time.perf_counter()
        await leader.resign()
        await asyncio.wait_for(task, p["timeout_s"])
        lat.append(stamp[0] - t0)
        leader, waiter = waiter, leader
    await leader.resign()
    for c in (a, b):
        close = getattr(c, "close", None)
        if close:
            await close()
    return {"p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3, "n": len(lat)}


# --------------------------------------------------------------------------- main loops

_out = sys.stdout


def emit(message: dict[str, Any]) -> None:
    _out.write(json.dumps(message) + "\n")
    _out.flush()


def _result(run: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": True, "metrics": run()}
    except NotAvailable as why:
        return {"ok": False, "na": str(why)}
    except BaseException:
        return {"ok": False, "error": traceback.format_exc(limit=8)}


def serve_sync(adapter_factory: Callable[[str], Any], info: dict[str, Any]) -> None:
    """Serve commands for a sync adapter. ``adapter_factory(endpoint)`` connects."""
    global _out
    _out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints from libraries go to stderr, never into the protocol
    endpoint = sys.argv[sys.argv.index("--endpoint") + 1]
    adapter = adapter_factory(endpoint)
    emit({"ready": True, "info": info})
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        msg = json.loads(line)
        if msg["cmd"] == "quit":
            break
        gc.collect()
        emit(_result(lambda msg=msg: run_sync(adapter, msg["workload"], msg["params"])))
    close = getattr(adapter, "close", None)
    if close:
        try:
            close()
        except Exception:
            pass
    _out.flush()
    os._exit(0)  # some clients leave non-daemon threads behind


def serve_async(adapter_factory: Callable[[str], Any], info: dict[str, Any]) -> None:
    """Serve commands for an async adapter; ``await adapter_factory(endpoint)`` connects.
    The event loop keeps running between commands (stdin is read in a thread)."""
    global _out
    _out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    endpoint = sys.argv[sys.argv.index("--endpoint") + 1]

    async def main() -> None:
        adapter = await adapter_factory(endpoint)
        emit({"ready": True, "info": info})
        while True:
            line = await _readline()
            if not line:
                break
            msg = json.loads(line)
            if msg["cmd"] == "quit":
                break
            gc.collect()
            try:
                metrics = await run_async(adapter, msg["workload"], msg["params"])
                emit({"ok": True, "metrics": metrics})
            except NotAvailable as why:
                emit({"ok": False, "na": str(why)})
            except BaseException:
                emit({"ok": False, "error": traceback.format_exc(limit=8)})
        close = getattr(adapter, "close", None)
        if close:
            try:
                await asyncio.wait_for(close(), 5)
            except BaseException:
                pass

    asyncio.run(main())
    _out.flush()
    os._exit(0)


def version_of(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


def protobuf_info() -> str:
    try:
        from google.protobuf.internal import api_implementation

        return f"protobuf {version_of('protobuf')} ({api_implementation.Type()})"
    except Exception:
        return "protobuf: none"
