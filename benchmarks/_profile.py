"""py-spy profiles of our clients under load ("where the time goes").

Attaches py-spy (tools venv) to a worker process while it runs a workload, then summarises the
raw collapsed stacks: share of samples by the code at the top of the stack, inclusive share of
our own functions, and the hottest leaf functions. Also usable on its own:

    .venv/bin/python benchmarks/_profile.py   # prints the summaries as JSON
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import _envs
from _envs import LOGS, WORK, log
from _workers import Contestant, Worker, all_contestants

PROFILES = [
    # (title, contestant, workload, params)
    (
        "AsyncClient, 32 concurrent puts (fsync on)",
        "ours-async",
        "put_tp",
        {"conc": 32, "warmup_s": 0.5, "duration_s": 5.0},
    ),
    (
        "sync Client, sequential puts (fsync on)",
        "ours-sync",
        "put_seq",
        {"n": 100000, "warmup_n": 200, "max_s": 5.0},
    ),
    (
        "bare grpc.aio, 32 concurrent puts (the ceiling, for comparison)",
        "grpc-aio",
        "put_tp",
        {"conc": 32, "warmup_s": 0.5, "duration_s": 5.0},
    ),
]
RATE = 250


def category(frame: str) -> str:
    f = frame
    if "etcd_recipes/_pb" in f:
        return "generated stubs (etcd_recipes/_pb)"
    if "etcd_recipes/" in f:
        return "etcd-recipes (our Python code)"
    if "(<string>" in f:
        return "dataclass-generated __init__ (our frozen response types)"
    if "grpc/" in f or "cygrpc" in f or ".pyx" in f:
        return "grpcio (Python/Cython layer; the C core runs below it)"
    if "google/protobuf" in f:
        return "protobuf"
    if "asyncio/" in f or "selectors.py" in f:
        return "asyncio event loop"
    if "tenacity" in f:
        return "tenacity"
    if "threading.py" in f or "queue.py" in f or "concurrent/" in f:
        return "threading / queues"
    if "_harness.py" in f:
        return "benchmark loop (_harness.py)"
    if "enum.py" in f:
        return "enum"
    return "other: " + f.split(" (", 1)[-1].split(":")[0].rsplit("/", 1)[-1].rstrip(")")


def short(frame: str) -> str:
    """'func (path/to/file.py)' -> 'file.py:func' with a path shortened to the package."""
    name, _, rest = frame.partition(" (")
    path = rest.rstrip(")")
    for marker in ("etcd_recipes/", "site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "etcd_recipes/":
                path = "etcd_recipes/" + path
            break
    return f"{path}:{name}"


def summarize(raw: str) -> dict[str, Any]:
    stacks: list[tuple[list[str], int]] = []
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [f for f in stack.split(";") if f]
        # py-spy puts the thread name first ("process 123:..."/"thread ...") only with options;
        # without them the first frame is the outermost Python frame.
        stacks.append((frames, n))
    total = sum(n for _, n in stacks) or 1
    by_cat: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        by_cat[category(leaf)] += n
        self_time[short(leaf)] += n
        seen = set()
        for f in frames:
            if "etcd_recipes/" in f and "etcd_recipes/_pb" not in f:
                s = short(f)
                if s not in seen:
                    seen.add(s)
                    inclusive[s] += n
    return {
        "samples": total,
        "by_category": [(k, v / total * 100) for k, v in by_cat.most_common()],
        "top_self": [(k, v / total * 100) for k, v in self_time.most_common(20)],
        "ours_inclusive": [(k, v / total * 100) for k, v in inclusive.most_common(20)],
    }


def run_profiles(binary: Any, contestants: list[Contestant]) -> list[dict[str, Any]]:
    from etcd_recipes.testing import EtcdServer

    tools, why = _envs.ensure_venv("tools")
    if tools is None:
        return [{"title": t, "na": why} for t, *_ in PROFILES]
    pyspy = tools.parent / "py-spy"
    by_name = {c.name: c for c in contestants}
    out: list[dict[str, Any]] = []
    with EtcdServer(binary, fsync=True, log_level="warn") as server:
        for title, name, workload, over in PROFILES:
            c = by_name.get(name) or next(x for x in all_contestants() if x.name == name)
            if c.python is None:
                c.python = _envs.ROOT / ".venv" / "bin" / "python"
            log(f"[profile] {title}")
            w = Worker(c, server.endpoint, go_bin=None, tag="profile")
            try:
                w.ready()
                params = {"tag": f"prof-{name}", "get_key": "/bench/get/key", **over}
                raw_path = WORK / f"profile-{name}-{workload}.txt"
                duration = int(over.get("duration_s", over.get("max_s", 5)))
                w.send({"cmd": "run", "workload": workload, "params": params})
                time.sleep(over.get("warmup_s", 0.3) + 0.2)  # profile the measured part only
                spy = subprocess.Popen(
                    [
                        str(pyspy),
                        "record",
                        "--pid",
                        str(w.proc.pid),
                        "--duration",
                        str(duration - 1),
                        "--rate",
                        str(RATE),
                        "--gil",
                        "--format",
                        "raw",
                        "--nolineno",
                        "-o",
                        str(raw_path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=(LOGS / "py-spy.log").open("ab"),
                )
                answer = w.recv(120)
                spy.wait(60)
                if not answer.get("ok") or not raw_path.exists():
                    out.append(
                        {
                            "title": title,
                            "na": f"profile failed: {answer} (py-spy rc {spy.returncode})",
                        }
                    )
                    continue
                summary = summarize(raw_path.read_text())
                summary.update(title=title, rate=RATE, ops_s=answer["metrics"].get("ops_s", 0.0))
                out.append(summary)
            except Exception as error:
                out.append({"title": title, "na": f"profile failed: {error}"})
            finally:
                w.close()
    return out


if __name__ == "__main__":
    from etcd_recipes.testing import find_etcd_binaries

    contestants = all_contestants()
    for c in contestants:
        if c.env == "project":
            c.python = _envs.ROOT / ".venv" / "bin" / "python"
    binary = sorted(find_etcd_binaries(), key=lambda b: b.version, reverse=True)[0]
    json.dump(run_profiles(binary, contestants), sys.stdout, indent=1)
