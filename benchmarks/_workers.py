"""Contestants and their worker processes (JSON lines over stdin/stdout)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _envs import ENV_VARS, HERE, LOGS, ROOT

CONTESTANTS_DIR = HERE / "contestants"


@dataclass
class Contestant:
    name: str  # short id used on the command line and in the tables
    label: str  # what the tables show
    env: str  # "project", "go" or a PEER_ENVS name
    argv: list[str]  # after the interpreter (or the Go binary)
    kind: str  # "sync" / "async" / "go"
    note: str = ""
    python: Path | None = None  # filled in by the runner
    unavailable: str = ""  # why it cannot run at all (shown as n/a everywhere)
    info: dict[str, Any] = field(default_factory=dict)


def all_contestants(patched: str = "") -> list[Contestant]:
    """Every contestant; ``patched``: also our clients imported from another checkout (A/B)."""
    c = str(CONTESTANTS_DIR)
    extra = []
    if patched:
        extra = [
            Contestant(
                "patched-async",
                "AsyncClient (patched copy)",
                "project",
                [f"{c}/ours.py", "--variant", "async", "--path", patched],
                "async",
            ),
            Contestant(
                "patched-sync",
                "Client (patched copy)",
                "project",
                [f"{c}/ours.py", "--variant", "sync", "--path", patched],
                "sync",
            ),
        ]
    return [
        *extra,
        Contestant(
            "ours-async",
            "etcd-recipes AsyncClient",
            "project",
            [f"{c}/ours.py", "--variant", "async"],
            "async",
        ),
        Contestant(
            "ours-sync",
            "etcd-recipes Client",
            "project",
            [f"{c}/ours.py", "--variant", "sync"],
            "sync",
        ),
        Contestant(
            "grpc-aio",
            "bare grpc.aio (ceiling)",
            "project",
            [f"{c}/bare.py", "--variant", "aio"],
            "async",
        ),
        Contestant(
            "grpc-sync",
            "bare grpcio sync (ceiling)",
            "project",
            [f"{c}/bare.py", "--variant", "sync"],
            "sync",
        ),
        Contestant("go", "Go clientv3 3.4.23", "go", [], "go"),
        Contestant(
            "etcd3",
            "etcd3 0.12 (python-etcd3)",
            "etcd3",
            [f"{c}/etcd3_family.py", "--module", "etcd3"],
            "sync",
            note="pure-Python protobuf (its stubs predate protobuf 4)",
        ),
        Contestant(
            "pyetcd",
            "etcd-sdk-python",
            "pyetcd",
            [f"{c}/etcd3_family.py", "--module", "pyetcd"],
            "sync",
        ),
        Contestant("aetcd", "aetcd", "aetcd", [f"{c}/aetcd_worker.py"], "async"),
        Contestant("etcd3aio", "etcd3aio", "etcd3aio", [f"{c}/etcd3aio_worker.py"], "async"),
        Contestant(
            "etcd-client-py",
            "etcd-client-py (Rust)",
            "etcdclientpy",
            [f"{c}/etcd_client_py_worker.py"],
            "async",
        ),
        Contestant(
            "etcd3gw", "etcd3gw (HTTP gateway)", "etcd3gw", [f"{c}/etcd3gw_worker.py"], "sync"
        ),
    ]


class WorkerError(RuntimeError):
    pass


class Worker:
    """One contestant process. ``request`` sends a command and waits (bounded) for the answer."""

    def __init__(
        self, contestant: Contestant, endpoint: str, *, go_bin: Path | None, tag: str
    ) -> None:
        self.contestant = contestant
        if contestant.env == "go":
            assert go_bin is not None
            cmd = [str(go_bin), "--endpoint", endpoint]
        else:
            assert contestant.python is not None
            cmd = [str(contestant.python), "-u", *contestant.argv, "--endpoint", endpoint]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        env.pop("PYTHONPATH", None)
        env.update(ENV_VARS.get(contestant.env, {}))
        env["GOMAXPROCS"] = env.get("GOMAXPROCS", str(os.cpu_count() or 2))
        LOGS.mkdir(parents=True, exist_ok=True)
        self.logpath = LOGS / f"worker-{contestant.name}-{tag}.log"
        self._log = self.logpath.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=str(ROOT),
            env=env,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def recv(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise WorkerError(f"no answer within {timeout:.0f}s (hung)") from None
        if line is None:
            self.proc.wait(5)
            raise WorkerError(
                f"worker exited ({self.proc.returncode}); see {self.logpath}: {self.log_tail()}"
            )
        try:
            return json.loads(line)  # type: ignore[no-any-return]
        except json.JSONDecodeError:
            raise WorkerError(f"bad protocol line: {line[:200]!r}") from None

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise WorkerError(f"worker is gone: {error}; {self.log_tail()}") from None

    def ready(self, timeout: float = 60.0) -> dict[str, Any]:
        msg = self.recv(timeout)
        if not msg.get("ready"):
            raise WorkerError(f"unexpected first line {msg}")
        return msg.get("info", {})  # type: ignore[no-any-return]

    def request(self, workload: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.send({"cmd": "run", "workload": workload, "params": params})
        return self.recv(timeout)

    def log_tail(self, n: int = 400) -> str:
        try:
            self._log.flush()
            return self.logpath.read_text(errors="replace")[-n:].strip()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.proc.wait(5)
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def start_workers(
    contestants: list[Contestant],
    endpoint: str,
    go_bin: Path | None,
    tag: str,
    timeout: float = 60.0,
) -> tuple[dict[str, Worker], dict[str, str]]:
    """Start one worker per contestant (in parallel); returns the workers and failures."""
    workers: dict[str, Worker] = {}
    failed: dict[str, str] = {}
    for c in contestants:
        if c.unavailable:
            continue
        try:
            workers[c.name] = Worker(c, endpoint, go_bin=go_bin, tag=tag)
        except OSError as error:
            failed[c.name] = f"cannot start: {error}"
    deadline = time.monotonic() + timeout
    for name, w in list(workers.items()):
        try:
            info = w.ready(max(1.0, deadline - time.monotonic()))
            w.contestant.info = info
        except WorkerError as error:
            failed[name] = str(error)
            w.close()
            del workers[name]
    return workers, failed
