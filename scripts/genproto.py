"""Regenerate ``etcd_recipes/_pb/`` from the ``.proto`` files in ``protos/``.

Usage::

    python scripts/genproto.py          # regenerate etcd_recipes/_pb/ in place
    python scripts/genproto.py --check  # exit 1 (with a diff summary) if _pb/ is stale

The script runs ``python -m grpc_tools.protoc`` with the protobuf, gRPC and mypy-protobuf
(``protoc-gen-mypy`` / ``protoc-gen-mypy_grpc``) generators into a temporary directory,
turns the absolute imports between the generated modules (``import kv_pb2 as kv__pb2``)
into package-relative ones (``from . import kv_pb2 as kv__pb2``), makes the ``*_pb2``
modules register their descriptors in the package's own pool (``etcd_recipes._pb.POOL``,
so that other packages compiling etcd's .proto files can be imported beside ours) and then
either writes
the result to ``etcd_recipes/_pb/`` or compares it with what is there.

The output only depends on the ``.proto`` files and on the pinned versions of
``grpcio-tools`` and ``mypy-protobuf`` (see the ``dev`` extra in pyproject.toml).
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
OUT_DIR = ROOT / "etcd_recipes" / "_pb"

# Order matters only for readability: kv and auth are imported by rpc.
PROTOS = ("kv.proto", "auth.proto", "rpc.proto")

INIT_PY = (
    '"""Generated protobuf and gRPC modules for the etcd v3 API.\n'
    "\n"
    "Generated from protos/*.proto by scripts/genproto.py -- do not edit.\n"
    "\n"
    "The descriptors live in a pool of their own (``POOL``), not in protobuf's default pool:\n"
    "other packages that compile etcd's .proto files (aetcd, etcd3aio, etcd-sdk-python, ...)\n"
    "register the same file and message names there, and both can then be imported in one\n"
    "process.\n"
    '"""\n'
    "\n"
    "from google.protobuf import descriptor_pool as _descriptor_pool\n"
    "\n"
    "POOL = _descriptor_pool.DescriptorPool()\n"
)

# protoc's modules register their file in the default pool; ours go to the package's POOL.
_DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
_IMPORTS_END = "# @@protoc_insertion_point(imports)\n"

# Cache directories that may legitimately sit next to the generated files.
IGNORED = {"__pycache__"}

MAX_DIFF_LINES = 40


def _plugin(name: str) -> Path:
    """Find a protoc plugin installed next to the running interpreter (i.e. in the venv)."""
    bin_dir = Path(sys.executable).parent
    for candidate in (bin_dir / name, bin_dir / f"{name}.exe"):
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found is None:
        sys.exit(f"genproto: {name} not found next to {sys.executable} (pip install mypy-protobuf)")
    return Path(found)


def _module_names() -> list[str]:
    stems = [Path(p).stem for p in PROTOS]
    return [f"{s}_pb2" for s in stems] + [f"{s}_pb2_grpc" for s in stems]


def _relativize(text: str, modules: list[str]) -> str:
    """Rewrite ``import kv_pb2 [as x]`` into ``from . import kv_pb2 [as x]``."""
    names = "|".join(re.escape(m) for m in sorted(modules, key=len, reverse=True))
    pattern = re.compile(rf"^import ({names})((?: as \w+)?)[ \t]*$", re.MULTILINE)
    return pattern.sub(r"from . import \1\2", text)


def _private_pool(text: str) -> str:
    """Make a ``*_pb2.py`` module add its file to ``etcd_recipes._pb.POOL``."""
    if _DEFAULT_POOL not in text or _IMPORTS_END not in text:
        sys.exit("genproto: protoc's output changed shape; update _private_pool()")
    text = text.replace(_IMPORTS_END, _IMPORTS_END + "from . import POOL as _POOL\n", 1)
    return text.replace(_DEFAULT_POOL, "DESCRIPTOR = _POOL.AddSerializedFile(", 1)


def generate(out: Path) -> dict[str, str]:
    """Run protoc into ``out`` and return {file name: final text} for the package."""
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_DIR.relative_to(ROOT)}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *(str((PROTO_DIR / p).relative_to(ROOT)) for p in PROTOS),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"genproto: protoc failed with exit code {proc.returncode}")

    modules = _module_names()
    files: dict[str, str] = {"__init__.py": INIT_PY}
    for path in sorted(out.iterdir()):
        if path.suffix not in (".py", ".pyi"):
            continue
        text = path.read_text(encoding="utf-8")
        text = _relativize(text, modules)
        if path.name.endswith("_pb2.py"):
            text = _private_pool(text)
        files[path.name] = text
    return files


def _existing() -> dict[str, str]:
    if not OUT_DIR.is_dir():
        return {}
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(OUT_DIR.iterdir())
        if p.is_file() and p.name not in IGNORED and p.suffix in (".py", ".pyi")
    }


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("grpcio-tools", "mypy-protobuf", "protobuf"):
        try:
            parts.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def check(fresh: dict[str, str]) -> int:
    current = _existing()
    missing = sorted(set(fresh) - set(current))
    extra = sorted(set(current) - set(fresh))
    changed = sorted(n for n in set(fresh) & set(current) if fresh[n] != current[n])
    if not (missing or extra or changed):
        print(f"genproto: {OUT_DIR.relative_to(ROOT)} is up to date")
        return 0

    rel = OUT_DIR.relative_to(ROOT)
    print(f"genproto: {rel} differs from a fresh generation ({_versions()}):")
    for name in missing:
        print(f"  missing:    {rel}/{name}")
    for name in extra:
        print(f"  unexpected: {rel}/{name}")
    for name in changed:
        diff = list(
            difflib.unified_diff(
                current[name].splitlines(keepends=True),
                fresh[name].splitlines(keepends=True),
                fromfile=f"{rel}/{name} (current)",
                tofile=f"{rel}/{name} (regenerated)",
            )
        )
        added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
        print(f"  changed:    {rel}/{name} (+{added} -{removed} lines)")
        shown = diff[:MAX_DIFF_LINES]
        sys.stdout.writelines("      " + line.rstrip("\n") + "\n" for line in shown)
        if len(diff) > MAX_DIFF_LINES:
            print(f"      ... {len(diff) - MAX_DIFF_LINES} more diff lines")
    print("run `python scripts/genproto.py` to regenerate")
    return 1


def write(fresh: dict[str, str]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in sorted(set(_existing()) - set(fresh)):
        (OUT_DIR / name).unlink()
        print(f"removed {OUT_DIR.relative_to(ROOT)}/{name}")
    for name, text in sorted(fresh.items()):
        target = OUT_DIR / name
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        with open(target, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        print(f"wrote {target.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write anything; exit 1 if etcd_recipes/_pb/ differs from a fresh generation",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="etcd-recipes-genproto-") as tmp:
        fresh = generate(Path(tmp))

    if args.check:
        return check(fresh)
    write(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
