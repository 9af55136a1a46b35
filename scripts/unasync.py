"""Generate the sync code and tests from their asyncio sources (one source of truth).

    python scripts/unasync.py          # rewrite etcd_recipes/_sync and tests/sync
    python scripts/unasync.py --check  # exit 1 if the committed output is stale

Sources: ``etcd_recipes/_async/**.py`` (except the hand-written ``_backend.py``) and
``tests/async_/**.py``. The rewrite is a table of token substitutions (like httpcore's), then
``ruff format`` and import sorting so the generated files pass the same checks as hand-written ones.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = [
    (ROOT / "etcd_recipes" / "_async", ROOT / "etcd_recipes" / "_sync"),
    (ROOT / "tests" / "async_", ROOT / "tests" / "sync"),
]
HAND_WRITTEN = {"_backend.py"}

SUBS: list[tuple[str, str]] = [
    (r"^\s*@pytest\.mark\.asyncio\n", ""),
    (r"^pytestmark = pytest\.mark\.asyncio\n", ""),
    (r"\bpytest_asyncio\.fixture\b", "pytest.fixture"),
    (r"^import pytest_asyncio\n", ""),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\bAwaitable\[(None|Any|bool|object)\]", r"\1"),
    (r"\bCoroutine\[Any, Any, (None|Any|bool|object)\]", r"\1"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncIterable\b", "Iterable"),
    (r"\bAsyncContextManager\b", "ContextManager"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\baclose\b", "close"),
    (r"\banext\(", "next("),
    (r"\baiter\(", "iter("),
    (r"\betcd_async_client\b", "etcd_client"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\b_async\b", "_sync"),
    (r"\basync_\b", "sync"),
    (r"\basync_([a-z]\w*)", r"sync_\1"),
]
COMPILED = [(re.compile(p, re.MULTILINE), r) for p, r in SUBS]


def rewrite(text: str, source: Path) -> str:
    """The sync version of one async source file."""
    for pattern, replacement in COMPILED:
        text = pattern.sub(replacement, text)
    rel = source.relative_to(ROOT).as_posix()
    return f"# GENERATED from {rel} by scripts/unasync.py -- do not edit.\n{text}"


def ruff() -> list[str]:
    """The ruff command (next to this interpreter, else on PATH)."""
    here = Path(sys.executable).parent / "ruff"
    return [str(here)] if here.exists() else ["ruff"]


def generate(out_root: Path) -> list[Path]:
    """Write every generated file below ``out_root`` (mirroring ROOT); returns them."""
    written = []
    for src_dir, dst_dir in TREES:
        for src in sorted(src_dir.rglob("*.py")):
            if src.name in HAND_WRITTEN:
                continue
            dst = out_root / dst_dir.relative_to(ROOT) / src.relative_to(src_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(rewrite(src.read_text(), src))
            written.append(dst)
    if written:
        config = ["--config", str(ROOT / "pyproject.toml")]
        files = [str(p) for p in written]
        run = {"check": False, "capture_output": True, "cwd": out_root}
        subprocess.run([*ruff(), "check", *config, "--fix", "--select", "I,F401", *files], **run)  # type: ignore[call-overload]
        subprocess.run([*ruff(), "format", *config, *files], **run)  # type: ignore[call-overload]
    return written


def expected_files(root: Path) -> set[str]:
    """Generated files present under ``root`` (relative paths)."""
    found = set()
    for _, dst_dir in TREES:
        base = root / dst_dir.relative_to(ROOT)
        for p in base.rglob("*.py"):
            if p.name not in HAND_WRITTEN and "__pycache__" not in p.parts:
                found.add(p.relative_to(root).as_posix())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        fresh = expected_files(out)
        current = expected_files(ROOT)
        if args.check:
            stale = sorted(
                rel
                for rel in fresh | current
                if not (out / rel).exists()
                or not (ROOT / rel).exists()
                or (out / rel).read_text() != (ROOT / rel).read_text()
            )
            if stale:
                print("stale generated sync files (run python scripts/unasync.py):")
                print("\n".join(f"  {s}" for s in stale))
                return 1
            print(f"unasync: {len(fresh)} generated files up to date")
            return 0
        for rel in current - fresh:
            (ROOT / rel).unlink()
        for rel in fresh:
            target = ROOT / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / rel, target)
        print(f"unasync: wrote {len(fresh)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
