"""Benchmark environments: one virtual environment per peer under ``benchmarks/.work/venvs``
(created on demand, recreated when its package list changes), the Go contestant's build, and
the tools venv (matplotlib for the chart, py-spy for profiles). Nothing is installed globally,
except that Go itself may come from Debian's ``apt-get`` when running as root."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
VENVS = WORK / "venvs"
LOGS = WORK / "logs"

# name -> pip requirements. Versions are pinned to the releases this suite was written against;
# change them here and the venv is rebuilt on the next run.
PEER_ENVS: dict[str, list[str]] = {
    # python-etcd3's generated code predates protobuf 4: on CPython 3.11 both ways to run it
    # (protobuf<4, or protobuf 7 with PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python) are the pure
    # Python protobuf; see ENV_VARS. tenacity<7: its lock crashes with tenacity 9.
    "etcd3": ["etcd3==0.12.0", "protobuf==3.20.3", "tenacity<7"],
    "pyetcd": ["etcd-sdk-python==0.0.7", "protobuf"],
    "aetcd": ["aetcd==1.0.0"],
    "etcd3aio": ["etcd3aio==0.3.0"],
    "etcdclientpy": ["etcd-client-py==0.5.1"],
    "etcd3gw": ["etcd3gw==2.7.0"],
    "tools": ["matplotlib", "py-spy"],
}
ENV_VARS: dict[str, dict[str, str]] = {
    "etcd3": {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def base_python() -> str:
    """The interpreter behind the project's venv, so every contestant runs the same CPython."""
    cfg = ROOT / ".venv" / "pyvenv.cfg"
    if cfg.exists():
        for line in cfg.read_text().splitlines():
            key, _, val = line.partition("=")
            if key.strip() == "executable" and Path(val.strip()).exists():
                return val.strip()
    return getattr(sys, "_base_executable", sys.executable)


def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def ensure_venv(name: str) -> tuple[Path | None, str]:
    """Create (or reuse) the venv ``name``; returns its python, or None and why it failed."""
    spec = PEER_ENVS[name]
    digest = hashlib.sha1(json.dumps(spec).encode()).hexdigest()[:12]
    path = VENVS / name
    marker = path / ".bench-spec"
    python = venv_python(name)
    if marker.exists() and marker.read_text() == digest and python.exists():
        return python, ""
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = LOGS / f"pip-{name}.log"
    log(f"[setup] creating venv {name}: pip install {' '.join(spec)}")
    shutil.rmtree(path, ignore_errors=True)
    with logfile.open("w") as out:
        steps = [
            [base_python(), "-m", "venv", str(path)],
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *spec],
        ]
        for cmd in steps:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=900)
            if proc.returncode != 0:
                tail = logfile.read_text()[-600:]
                return None, f"pip install {' '.join(spec)} failed: {tail.strip()}"
    marker.write_text(digest)
    return python, ""


def pip_freeze(name: str) -> dict[str, str]:
    python = venv_python(name)
    try:
        out = subprocess.run(
            [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        return {item["name"].lower(): item["version"] for item in json.loads(out)}
    except Exception:
        return {}


# --------------------------------------------------------------------------- Go


GO_SRC = HERE / "go"
GO_BIN = WORK / "go" / "etcdbench"
GOCODE = Path("/usr/share/gocode")


def _try_apt_install_go() -> str:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root or no apt-get"
    log("[setup] Go not found: apt-get install -y golang-go golang-etcd-server-dev (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / "apt-go.log").open("w") as out:
        for cmd in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "golang-go", "golang-etcd-server-dev"],
        ):
            if subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=900
            ).returncode:
                return f"`{' '.join(cmd)}` failed (see {LOGS / 'apt-go.log'})"
    return ""


def ensure_go(allow_apt: bool) -> tuple[Path | None, str]:
    """Build the Go contestant (GOPATH mode against Debian's etcd 3.4 client sources)."""
    go = shutil.which("go") or ("/usr/bin/go" if Path("/usr/bin/go").exists() else None)
    have_src = (GOCODE / "src" / "go.etcd.io" / "etcd" / "clientv3").is_dir()
    if (go is None or not have_src) and allow_apt:
        why = _try_apt_install_go()
        go = shutil.which("go")
        have_src = (GOCODE / "src" / "go.etcd.io" / "etcd" / "clientv3").is_dir()
        if why and (go is None or not have_src):
            return None, f"Go not installed and apt-get failed: {why}"
    if go is None:
        return None, "Go is not installed (apt-get install golang-go golang-etcd-server-dev)"
    if not have_src:
        return None, "etcd's Go client sources missing (apt-get install golang-etcd-server-dev)"
    source = GO_SRC / "src" / "etcdbench" / "main.go"
    stamp = WORK / "go" / ".src-sha"
    digest = hashlib.sha1(source.read_bytes()).hexdigest()
    if GO_BIN.exists() and stamp.exists() and stamp.read_text() == digest:
        return GO_BIN, ""
    GO_BIN.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{GO_SRC}:{GOCODE}",
        "GOCACHE": str(WORK / "go" / "cache"),
        "GOFLAGS": "",
    }
    log(
        "[setup] building the Go contestant (GO111MODULE=off, GOPATH=benchmarks/go:/usr/share/gocode)"
    )
    proc = subprocess.run(
        [go, "build", "-o", str(GO_BIN), "."],
        cwd=GO_SRC / "src" / "etcdbench",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        return None, f"go build failed: {proc.stderr.strip()[-500:]}"
    stamp.write_text(digest)
    return GO_BIN, ""


def go_version() -> str:
    go = shutil.which("go")
    if not go:
        return ""
    return subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
