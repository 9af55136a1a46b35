"""A real multi-member etcd cluster on loopback, with per-member faults."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import urllib.error
import uuid
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from ._binary import EtcdBinary
from ._server import (
    EtcdServer,
    EtcdStartError,
    TlsFiles,
    _http_json,
    _reaper,
    _resolve_binary,
    free_port,
)

__all__ = ["EtcdCluster"]

_POLL_INTERVAL = 0.01


def _remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _reaper.remove_dir(path)


class EtcdCluster:
    """A static etcd cluster of ``size`` real processes on loopback.

    Members are :class:`EtcdServer` objects (``cluster.members[i]``), so each can be killed
    (SIGKILL), paused (SIGSTOP), resumed and restarted; a killed or restarted member recovers
    from its own data directory and rejoins. Election timings default to 50/250 ms so that a
    new leader exists ~0.3 s after the old one dies.

    Example::

        with EtcdCluster(3) as cluster:
            old = cluster.leader()
            old.kill()
            new = cluster.leader()      # waits (bounded) for the election
            old.start()
            cluster.wait_ready()

    Args:
        size: number of members.
        binary: an :class:`EtcdBinary`, a path to etcd, or ``None`` for
            :func:`find_etcd_binary`.
        heartbeat_ms: ``--heartbeat-interval``.
        election_ms: ``--election-timeout``.
        fsync: ``False`` adds ``--unsafe-no-fsync`` on etcd >= 3.5.
        extra_args: more etcd flags for every member.
        crash_safe: members work around the crash bug of etcd 3.5.0 to 3.5.2 (see
            :class:`EtcdServer`), so a killed and restarted member has every write its peers
            have. On by default: killing members is what clusters in tests are for.
        tls: serve every member's client URL over https.
        start_timeout: seconds ``start()`` waits for all members and a leader.
        name_prefix: members are named ``<prefix>0``, ``<prefix>1``, ...
        auth_token_ttl: ``--auth-token-ttl`` in seconds.
        quota_backend_bytes: ``--quota-backend-bytes``.
        log_level: ``--log-level``.
    """

    def __init__(
        self,
        size: int = 3,
        binary: EtcdBinary | str | os.PathLike[str] | None = None,
        *,
        heartbeat_ms: int = 50,
        election_ms: int = 250,
        fsync: bool = False,
        extra_args: Sequence[str] = (),
        crash_safe: bool = True,
        tls: TlsFiles | None = None,
        start_timeout: float = 20.0,
        name_prefix: str = "m",
        auth_token_ttl: int | None = None,
        quota_backend_bytes: int | None = None,
        log_level: str = "info",
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one member")
        self._size = size
        self._binary = _resolve_binary(binary)
        self._heartbeat_ms = heartbeat_ms
        self._election_ms = election_ms
        self._fsync = fsync
        self._extra_args = tuple(extra_args)
        self._crash_safe = crash_safe
        self._tls = tls
        self.start_timeout = start_timeout
        self._name_prefix = name_prefix
        self._auth_token_ttl = auth_token_ttl
        self._quota_backend_bytes = quota_backend_bytes
        self._log_level = log_level
        self._members: list[EtcdServer] = []
        self._dir: Path | None = None
        self._dir_finalizer: weakref.finalize[[Path], EtcdCluster] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def size(self) -> int:
        """The number of members."""
        return self._size

    @property
    def binary(self) -> EtcdBinary:
        """The etcd executable every member runs."""
        return self._binary

    @property
    def version(self) -> tuple[int, int, int]:
        """The etcd version as ``(major, minor, patch)``."""
        return self._binary.version

    @property
    def members(self) -> list[EtcdServer]:
        """The member handles, in order (empty before ``start()``)."""
        return list(self._members)

    @property
    def endpoints(self) -> list[str]:
        """Every member's ``"127.0.0.1:PORT"``, whatever its state."""
        return [member.endpoint for member in self._members]

    @property
    def client_urls(self) -> list[str]:
        """Every member's client URL."""
        return [member.client_url for member in self._members]

    @property
    def directory(self) -> Path | None:
        """The temporary directory holding every member's data and log."""
        return self._dir

    def __len__(self) -> int:
        return len(self._members)

    def __getitem__(self, index: int) -> EtcdServer:
        return self._members[index]

    def __iter__(self) -> Iterator[EtcdServer]:
        return iter(list(self._members))

    def __repr__(self) -> str:
        states = ["paused" if m.paused else "up" if m.running else "down" for m in self._members]
        return f"<EtcdCluster etcd {self._binary.version_string} {states}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float | None = None) -> EtcdCluster:
        """Start every member and wait until all are healthy and agree on a leader.

        Raises:
            EtcdStartError: a member exited, or the cluster was not ready in time.
        """
        if self._members:
            raise RuntimeError("cluster already started")
        budget = self.start_timeout if timeout is None else timeout
        for attempt in range(3):
            self._create_members()
            deadline = time.monotonic() + budget
            try:
                # One at a time: a new member first asks its peers whether it was already
                # bootstrapped, and a peer that has bound its port but is not serving yet makes
                # that question hang for etcd's 1 s bootstrap timeout (twice per start, often).
                # Refused connections fail fast, and a serving peer answers at once.
                for member in self._members:
                    member.start(wait=False)
                    self._wait_peer_serving(member, deadline)
                self.wait_ready(max(0.0, deadline - time.monotonic()))
            except EtcdStartError:
                port_clash = any(
                    "address already in use" in m.log_tail(4000) for m in self._members
                )
                self.stop()
                if port_clash and attempt < 2:
                    continue
                raise
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Kill every member and remove all data (nothing is kept, so no graceful shutdown)."""
        for member in self._members:
            member.kill()
        self._members = []
        if self._dir_finalizer is not None:
            self._dir_finalizer()
            self._dir_finalizer = None
        self._dir = None

    def __enter__(self) -> EtcdCluster:
        if not self._members:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ faults

    def kill(self, index: int) -> EtcdServer:
        """SIGKILL member ``index`` (its data stays); returns it."""
        member = self._members[index]
        member.kill()
        return member

    def pause(self, index: int) -> EtcdServer:
        """SIGSTOP member ``index``; returns it."""
        member = self._members[index]
        member.pause()
        return member

    def resume(self, index: int) -> EtcdServer:
        """SIGCONT member ``index``; returns it."""
        member = self._members[index]
        member.resume()
        return member

    def restart(self, index: int, *, graceful: bool = True, wait: bool = True) -> EtcdServer:
        """Restart member ``index`` from its data (started again if it was down).

        With ``wait``, returns once the member is healthy, which needs a quorum.
        """
        member = self._members[index]
        member.restart(graceful=graceful, wait=wait, timeout=self.start_timeout)
        return member

    def heal(self, timeout: float | None = None) -> None:
        """Resume paused members, start stopped ones, then :meth:`wait_ready`."""
        for member in self._members:
            if member.paused:
                member.resume()
            elif not member.running:
                member.start(wait=False)
        self.wait_ready(self.start_timeout if timeout is None else timeout)

    # ------------------------------------------------------------------ observation

    def leader(self, timeout: float = 10.0) -> EtcdServer:
        """The member that is the raft leader, waiting (bounded) until one is known.

        A leader counts once a majority of the cluster names it and it, running and not
        paused, names itself; so a just-killed leader is never returned.

        Raises:
            TimeoutError: no leader was agreed within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self._current_leader(all_agree=False)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no etcd leader within {timeout} s: {self!r}")
            time.sleep(_POLL_INTERVAL)

    def followers(self, timeout: float = 10.0) -> list[EtcdServer]:
        """The running, unpaused members other than the current :meth:`leader`."""
        leader = self.leader(timeout)
        return [m for m in self._members if m is not leader and m.running and not m.paused]

    def member_by_id(self, member_id: int) -> EtcdServer:
        """The member whose raft id is ``member_id``.

        Raises:
            KeyError: no such member.
        """
        for member in self._members:
            with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
                if member.member_id == member_id:
                    return member
        raise KeyError(member_id)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until every running, unpaused member is healthy and all name the same leader.

        Raises:
            EtcdStartError: a member exited unexpectedly or ``timeout`` passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            live = [m for m in self._members if m.running and not m.paused]
            for member in self._members:
                if member.returncode is not None:
                    raise EtcdStartError(
                        member.failure_message(f"member {member.name} exited ({member.returncode})")
                    )
            if (
                live
                and all(m.is_healthy(timeout=0.5) for m in live)
                and self._current_leader(all_agree=True) is not None
            ):
                return
            if time.monotonic() >= deadline:
                tails = "\n".join(m.failure_message(f"member {m.name}") for m in self._members)
                raise EtcdStartError(f"cluster not ready after {timeout} s: {self!r}\n{tails}")
            time.sleep(_POLL_INTERVAL)

    # ------------------------------------------------------------------ internals

    def _current_leader(self, *, all_agree: bool) -> EtcdServer | None:
        live = [m for m in self._members if m.running and not m.paused]
        votes: dict[int, int] = {}
        self_named: dict[int, EtcdServer] = {}
        answered = 0
        for member in live:
            try:
                status = member.status(timeout=0.5)
            except (OSError, ValueError, KeyError, urllib.error.URLError):
                continue
            answered += 1
            leader_id = int(status.get("leader") or 0)
            if leader_id:
                votes[leader_id] = votes.get(leader_id, 0) + 1
                if leader_id == member.member_id:
                    self_named[leader_id] = member
        needed = len(live) if all_agree else self._size // 2 + 1
        if all_agree and answered < len(live):
            return None
        for leader_id, count in votes.items():
            if count >= needed and leader_id in self_named:
                return self_named[leader_id]
        return None

    @staticmethod
    def _wait_peer_serving(member: EtcdServer, deadline: float) -> None:
        while True:
            if member.returncode is not None:
                raise EtcdStartError(member.failure_message(f"member {member.name} exited"))
            try:
                _http_json(member.peer_url + "/members", timeout=0.2)
            except (OSError, ValueError, urllib.error.URLError):
                if time.monotonic() >= deadline:
                    raise EtcdStartError(
                        member.failure_message(f"member {member.name} never served peers")
                    ) from None
                time.sleep(_POLL_INTERVAL)
            else:
                return

    def _create_members(self) -> None:
        if self._dir is None:
            directory = Path(tempfile.mkdtemp(prefix="etcd-recipes-cluster-"))
            _reaper.add_dir(directory)
            self._dir = directory
            self._dir_finalizer = weakref.finalize(self, _remove_dir, directory)
        names = [f"{self._name_prefix}{i}" for i in range(self._size)]
        ports = [(free_port(), free_port()) for _ in names]
        initial = ",".join(
            f"{name}=http://127.0.0.1:{peer}" for name, (_, peer) in zip(names, ports, strict=True)
        )
        token = f"etcd-recipes-{uuid.uuid4().hex[:12]}"
        self._members = [
            EtcdServer(
                self._binary,
                name=name,
                data_dir=self._dir / f"{name}.etcd",
                log_path=self._dir / f"{name}.log",
                fsync=self._fsync,
                extra_args=self._extra_args,
                crash_safe=self._crash_safe,
                heartbeat_ms=self._heartbeat_ms,
                election_ms=self._election_ms,
                tls=self._tls,
                auth_token_ttl=self._auth_token_ttl,
                quota_backend_bytes=self._quota_backend_bytes,
                log_level=self._log_level,
                start_timeout=self.start_timeout,
                client_port=client,
                peer_port=peer,
                initial_cluster=initial,
                initial_cluster_token=token,
            )
            for name, (client, peer) in zip(names, ports, strict=True)
        ]
