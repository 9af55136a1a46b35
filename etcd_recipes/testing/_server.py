"""One real etcd process on loopback: start, stop, kill, pause, resume, restart.

The process runs in its own process group. Three layers make sure it never outlives us:
``stop()``/the context manager, a ``weakref.finalize`` (garbage collection and interpreter
exit), and a tiny reaper process that kills every registered etcd when our process dies
without running any Python code (SIGKILL, crash).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ._binary import EtcdBinary, find_etcd_binary

__all__ = ["EtcdServer", "EtcdStartError", "TlsFiles"]

_LOOPBACK = "127.0.0.1"
_POLL_INTERVAL = 0.01


class EtcdStartError(RuntimeError):
    """etcd did not start or did not become healthy in time; the message ends with its log."""


@dataclass(frozen=True)
class TlsFiles:
    """TLS material for an etcd server's client URL.

    Attributes:
        ca: CA bundle that signed the server certificate (and client certificates).
        cert: server certificate; it must be valid for ``127.0.0.1`` (an IP SAN).
        key: private key of ``cert``.
        client_cert_auth: require clients to present a certificate signed by ``ca``.
        client_cert: certificate the harness presents for its own health checks when
            ``client_cert_auth`` is on (defaults to ``cert``, which then needs clientAuth usage).
        client_key: private key of ``client_cert`` (defaults to ``key``).
    """

    ca: str | os.PathLike[str]
    cert: str | os.PathLike[str]
    key: str | os.PathLike[str]
    client_cert_auth: bool = False
    client_cert: str | os.PathLike[str] | None = None
    client_key: str | os.PathLike[str] | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that trusts ``ca`` and presents the client certificate."""
        context = ssl.create_default_context(cafile=os.fspath(self.ca))
        if self.client_cert_auth:
            context.load_cert_chain(
                os.fspath(self.client_cert or self.cert), os.fspath(self.client_key or self.key)
            )
        return context

    def etcd_args(self) -> list[str]:
        """The etcd flags that serve the client URL over TLS."""
        args = [f"--cert-file={os.fspath(self.cert)}", f"--key-file={os.fspath(self.key)}"]
        if self.client_cert_auth:
            # etcd treats a trusted CA file as "verify client certificates", so only with mTLS.
            args += [f"--trusted-ca-file={os.fspath(self.ca)}", "--client-cert-auth"]
        return args


# --------------------------------------------------------------------------- reaper


_REAPER_SOURCE = r"""
import os, shutil, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
groups, dirs = set(), set()
for line in sys.stdin:
    op, _, arg = line.rstrip("\n").partition(" ")
    if op == "+g": groups.add(int(arg))
    elif op == "-g": groups.discard(int(arg))
    elif op == "+d": dirs.add(arg)
    elif op == "-d": dirs.discard(arg)
for pgid in groups:
    try: os.killpg(pgid, signal.SIGKILL)
    except OSError: pass
for path in dirs:
    shutil.rmtree(path, ignore_errors=True)
"""


class _Reaper:
    """A helper process that kills our etcd process groups if this process dies abruptly.

    It reads registrations on a pipe; end of file means we are gone (however we died).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid_of_owner = -1
        self._failed = False

    def _send(self, line: str) -> None:
        with self._lock:
            if self._failed:
                return
            if self._proc is None or self._pid_of_owner != os.getpid():
                try:
                    self._proc = subprocess.Popen(
                        [sys.executable, "-I", "-S", "-c", _REAPER_SOURCE],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                except OSError:
                    self._failed = True
                    return
                self._pid_of_owner = os.getpid()
            stdin = self._proc.stdin
            assert stdin is not None
            try:
                stdin.write(line.encode() + b"\n")
                stdin.flush()
            except (OSError, ValueError):
                self._failed = True

    def add_group(self, pgid: int) -> None:
        self._send(f"+g {pgid}")

    def remove_group(self, pgid: int) -> None:
        self._send(f"-g {pgid}")

    def add_dir(self, path: Path) -> None:
        self._send(f"+d {path}")

    def remove_dir(self, path: Path) -> None:
        self._send(f"-d {path}")


_reaper = _Reaper()


# --------------------------------------------------------------------------- ports


_port_lock = threading.Lock()
_handed_out: set[int] = set()


def _port_range() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range, so outgoing connections never take them."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    if low - 10000 < 1024:
        return (0, 0)
    return (low - 10000, low)


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = _LOOPBACK) -> int:
    """A TCP port on ``host`` that is free now and not handed out before by this process."""
    low, high = _port_range()
    with _port_lock:
        if high:
            for _ in range(500):
                port = random.randrange(low, high)
                if port not in _handed_out and _bindable(host, port):
                    _handed_out.add(port)
                    return port
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise OSError("could not find a free TCP port")


# --------------------------------------------------------------------------- HTTP


def _http_json(
    url: str,
    *,
    body: dict[str, Any] | None = None,
    timeout: float = 1.0,
    context: ssl.SSLContext | None = None,
) -> Any:
    """GET (or POST ``body`` as JSON to) ``url`` and decode the JSON answer; never via a proxy."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------- process state


class _ProcState:
    """What the finalizer needs; it must not reference the EtcdServer itself."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.owned_dir: Path | None = None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def _finalize(state: _ProcState) -> None:
    proc, state.proc = state.proc, None
    if proc is not None:
        if proc.poll() is None:
            _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        _reaper.remove_group(proc.pid)
    owned, state.owned_dir = state.owned_dir, None
    if owned is not None:
        shutil.rmtree(owned, ignore_errors=True)
        _reaper.remove_dir(owned)


def _child_env(extra: dict[str, str] | None) -> dict[str, str]:
    # etcd reads ETCD_* variables as flags and refuses to start when one duplicates a flag.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        env["ETCD_UNSUPPORTED_ARCH"] = "arm64"
    if extra:
        env.update(extra)
    return env


def _resolve_binary(binary: EtcdBinary | str | os.PathLike[str] | None) -> EtcdBinary:
    if binary is None:
        return find_etcd_binary()
    if isinstance(binary, EtcdBinary):
        return binary
    return EtcdBinary.from_path(binary, source="explicit")


# --------------------------------------------------------------------------- server

# ``crash_safe``: no periodic backend commits (24 hours, and a batch no test fills); a snapshot,
# which commits from the apply loop itself, every 10,000 writes bounds what a restart replays.
_CRASH_SAFE_FLAGS = (
    ("--backend-batch-interval", "24h"),
    ("--backend-batch-limit", "1000000000"),
    ("--snapshot-count", "10000"),
)


class EtcdServer:
    """A real etcd process listening on loopback, for tests and demos.

    Example::

        with EtcdServer(fsync=False) as server:
            client = etcd_recipes.Client(endpoints=server.endpoints)

    ``stop()`` ends the process and removes the data directory if the server created it;
    ``kill()`` (SIGKILL) keeps the data so that ``start()``/``restart()`` recover from it on
    the same ports. ``pause()``/``resume()`` freeze the process (SIGSTOP/SIGCONT), which looks
    like a hung machine to clients and peers.

    Args:
        binary: an :class:`EtcdBinary`, a path to etcd, or ``None`` for :func:`find_etcd_binary`.
        name: the member name (``--name``).
        data_dir: where etcd keeps its data; by default a temporary directory owned (and
            removed on ``stop()``) by this object.
        fsync: ``False`` adds ``--unsafe-no-fsync`` on etcd >= 3.5 (ignored on 3.4, which
            lacks the flag).
        extra_args: more etcd command-line flags, appended last.
        crash_safe: on etcd 3.5.0 to 3.5.2, work around their crash bug (etcd issue 13766, fixed
            in 3.5.3): the member saves "entry N applied" in a periodic backend commit that can
            fall between that mark and entry N's data; killed before the next commit, it
            restarts without the write, and its revisions differ from its peers' for good. With
            ``crash_safe`` the member runs with ``--backend-batch-interval=24h`` and a huge
            ``--backend-batch-limit``, and ``--snapshot-count=10000`` (unless set otherwise), so
            its backend commits only when etcd forces one (snapshot, defragment, compaction,
            clean stop) and a killed member replays the writes since (at most ~10,000) from its
            WAL. No effect on other versions.
            ``EtcdCluster`` turns it on; a lone server keeps etcd's defaults.
        heartbeat_ms: ``--heartbeat-interval``. When neither this nor ``election_ms`` is given
            and the server is a cluster of one, 10 ms (with 100 ms elections): a lone member
            then starts in ~0.1 s instead of ~1 s, and it never holds another election.
        election_ms: ``--election-timeout``.
        tls: serve the client URL over https with these files.
        auth_token_ttl: ``--auth-token-ttl`` in seconds.
        quota_backend_bytes: ``--quota-backend-bytes``.
        max_txn_ops: ``--max-txn-ops``.
        max_request_bytes: ``--max-request-bytes``.
        snapshot_count: ``--snapshot-count``.
        log_level: ``--log-level`` (etcd >= 3.4).
        start_timeout: seconds ``start()`` waits for ``/health`` to report healthy.
        host: the loopback address to listen on.
        client_port: fixed client port (default: a free port, kept across restarts).
        peer_port: fixed peer port (default: a free port, kept across restarts).
        initial_cluster: ``--initial-cluster`` (default: this member alone).
        initial_cluster_token: ``--initial-cluster-token``.
        log_path: file that receives etcd's output (default: ``<name>.log`` beside the data).
        env: extra environment variables for the etcd process.
    """

    def __init__(
        self,
        binary: EtcdBinary | str | os.PathLike[str] | None = None,
        *,
        name: str = "default",
        data_dir: str | os.PathLike[str] | None = None,
        fsync: bool = True,
        extra_args: Sequence[str] = (),
        crash_safe: bool = False,
        heartbeat_ms: int | None = None,
        election_ms: int | None = None,
        tls: TlsFiles | None = None,
        auth_token_ttl: int | None = None,
        quota_backend_bytes: int | None = None,
        max_txn_ops: int | None = None,
        max_request_bytes: int | None = None,
        snapshot_count: int | None = None,
        log_level: str = "info",
        start_timeout: float = 15.0,
        host: str = _LOOPBACK,
        client_port: int | None = None,
        peer_port: int | None = None,
        initial_cluster: str | None = None,
        initial_cluster_token: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._binary = _resolve_binary(binary)
        self._name = name
        self._fsync = fsync
        self._extra_args = tuple(extra_args)
        self._crash_safe = crash_safe
        if heartbeat_ms is None and election_ms is None and initial_cluster is None:
            heartbeat_ms, election_ms = 10, 100
        self._heartbeat_ms = heartbeat_ms
        self._election_ms = election_ms
        self._tls = tls
        self._auth_token_ttl = auth_token_ttl
        self._quota_backend_bytes = quota_backend_bytes
        self._max_txn_ops = max_txn_ops
        self._max_request_bytes = max_request_bytes
        self._snapshot_count = snapshot_count
        self._log_level = log_level
        self.start_timeout = start_timeout
        self._host = host
        self._ports_fixed = client_port is not None or peer_port is not None
        self._client_port = client_port
        self._peer_port = peer_port
        self._initial_cluster = initial_cluster
        self._token = initial_cluster_token or f"etcd-recipes-{os.getpid()}-{id(self):x}"
        self._user_data_dir = Path(data_dir) if data_dir is not None else None
        self._user_log_path = Path(log_path) if log_path is not None else None
        self._env = dict(env) if env else None
        self._data_dir: Path | None = None
        self._log_path: Path | None = None
        self._paused = False
        self._member_id: int | None = None
        self._lock = threading.RLock()
        self._state = _ProcState()
        self._finalizer = weakref.finalize(self, _finalize, self._state)

    # ------------------------------------------------------------------ properties

    @property
    def binary(self) -> EtcdBinary:
        """The etcd executable this server runs."""
        return self._binary

    @property
    def version(self) -> tuple[int, int, int]:
        """The etcd version as ``(major, minor, patch)``."""
        return self._binary.version

    @property
    def name(self) -> str:
        """The member name (``--name``)."""
        return self._name

    @property
    def host(self) -> str:
        """The address etcd listens on."""
        return self._host

    @property
    def client_port(self) -> int:
        """The client port (chosen on first use, then fixed for the object's lifetime)."""
        self._ensure_ports()
        assert self._client_port is not None
        return self._client_port

    @property
    def peer_port(self) -> int:
        """The peer (raft) port."""
        self._ensure_ports()
        assert self._peer_port is not None
        return self._peer_port

    @property
    def endpoint(self) -> str:
        """``"127.0.0.1:PORT"``: what a client connects to."""
        return f"{self._host}:{self.client_port}"

    @property
    def endpoints(self) -> list[str]:
        """``[endpoint]``, the shape clients take."""
        return [self.endpoint]

    @property
    def scheme(self) -> str:
        """``"https"`` with TLS, else ``"http"``."""
        return "https" if self._tls is not None else "http"

    @property
    def client_url(self) -> str:
        """The client URL, e.g. ``"http://127.0.0.1:PORT"``."""
        return f"{self.scheme}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        """The peer URL, e.g. ``"http://127.0.0.1:PORT"`` (peers always speak plain http)."""
        return f"http://{self._host}:{self.peer_port}"

    @property
    def tls(self) -> TlsFiles | None:
        """The TLS files, if the client URL is served over https."""
        return self._tls

    @property
    def pid(self) -> int | None:
        """The etcd process id while it runs, else ``None``."""
        proc = self._state.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def returncode(self) -> int | None:
        """etcd's exit status if it exited by itself (not via ``kill()``/``stop()``)."""
        proc = self._state.proc
        return None if proc is None else proc.poll()

    @property
    def running(self) -> bool:
        """Whether the etcd process exists (it may be paused)."""
        return self.pid is not None

    @property
    def paused(self) -> bool:
        """Whether the process is stopped with SIGSTOP."""
        return self._paused and self.running

    @property
    def data_dir(self) -> Path | None:
        """etcd's data directory, or ``None`` before the first start or after ``stop()``."""
        return self._data_dir

    @property
    def log_path(self) -> Path | None:
        """The file that receives etcd's output."""
        return self._log_path

    @property
    def member_id(self) -> int:
        """This member's raft id (asked from etcd once, then cached; it survives restarts)."""
        if self._member_id is None:
            self.status()
        assert self._member_id is not None
        return self._member_id

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, wait: bool = True, timeout: float | None = None) -> EtcdServer:
        """Start etcd (recovering from the existing data directory, if any).

        Args:
            wait: block until ``/health`` reports healthy. A cluster member cannot be
                healthy before a quorum runs, so clusters start members with ``wait=False``.
            timeout: seconds to wait (default ``start_timeout``).

        Raises:
            EtcdStartError: etcd exited or did not become healthy in time.
            RuntimeError: it is already running.
        """
        with self._lock:
            if self.running:
                raise RuntimeError(f"etcd {self._name!r} is already running (pid {self.pid})")
            for attempt in range(3):
                fresh = self._prepare_dirs()
                self._spawn()
                if not wait:
                    return self
                try:
                    self.wait_healthy(self.start_timeout if timeout is None else timeout)
                except EtcdStartError:
                    retry = (
                        fresh
                        and not self._ports_fixed
                        and attempt < 2
                        and "address already in use" in self.log_tail(4000)
                    )
                    if not retry:
                        # A fresh server is cleaned up (the error carries the log tail); one
                        # that was recovering keeps its data for another try.
                        self.stop() if fresh else self.kill()
                        raise
                    self.stop()
                    self._client_port = self._peer_port = None
                    continue
                return self
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop etcd (SIGTERM, then SIGKILL after ``timeout``); remove data this object created.

        Safe to call repeatedly and on a server that never started.
        """
        with self._lock:
            self._terminate(graceful=True, timeout=timeout)
            owned, self._state.owned_dir = self._state.owned_dir, None
            if owned is not None:
                shutil.rmtree(owned, ignore_errors=True)
                _reaper.remove_dir(owned)
                self._data_dir = self._log_path = None
                self._member_id = None

    def kill(self) -> None:
        """SIGKILL the process group; the data directory stays for ``start()``/``restart()``."""
        with self._lock:
            self._terminate(graceful=False, timeout=10.0)

    def pause(self) -> None:
        """Freeze etcd with SIGSTOP (connections stay open; nothing answers).

        Returns once every thread of the process is stopped (on Linux; bounded to 2 s).
        """
        with self._lock:
            self._signal(signal.SIGSTOP)
            self._paused = True
            self._wait_stopped(True)

    def resume(self) -> None:
        """Continue a paused etcd with SIGCONT (returns once it runs again, on Linux)."""
        with self._lock:
            self._signal(signal.SIGCONT)
            self._paused = False
            self._wait_stopped(False)

    def restart(
        self, *, graceful: bool = True, wait: bool = True, timeout: float | None = None
    ) -> EtcdServer:
        """Stop the process (SIGTERM, or SIGKILL if not ``graceful``) and start it again.

        The data directory and ports are kept, so the member recovers its state.
        """
        with self._lock:
            self._terminate(graceful=graceful, timeout=10.0)
            return self.start(wait=wait, timeout=timeout)

    def __enter__(self) -> EtcdServer:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return (
            f"<EtcdServer {self._name!r} {self.client_url if self._client_port else '-'} "
            f"etcd {self._binary.version_string} {state}>"
        )

    # ------------------------------------------------------------------ health and status

    def ssl_context(self) -> ssl.SSLContext | None:
        """The SSL context for talking to the client URL, or ``None`` without TLS."""
        return self._tls.ssl_context() if self._tls is not None else None

    def request(self, path: str, body: dict[str, Any] | None = None, timeout: float = 2.0) -> Any:
        """Call etcd's HTTP API on the client URL (GET, or POST ``body`` as JSON); decoded JSON.

        ``path`` is e.g. ``"/health"`` or ``"/v3/kv/range"`` (the JSON gateway, where keys and
        values are base64).
        """
        return _http_json(
            self.client_url + path, body=body, timeout=timeout, context=self.ssl_context()
        )

    def is_healthy(self, timeout: float = 1.0) -> bool:
        """Whether ``GET /health`` answers ``{"health": "true"}`` within ``timeout``."""
        if not self.running or self.paused:
            return False
        try:
            answer = self.request("/health", timeout=timeout)
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return isinstance(answer, dict) and answer.get("health") == "true"

    def status(self, timeout: float = 1.0) -> dict[str, Any]:
        """``POST /v3/maintenance/status``; ids in the answer are decimal strings.

        Caches ``member_id`` as a side effect.
        """
        answer = self.request("/v3/maintenance/status", body={}, timeout=timeout)
        if not isinstance(answer, dict):
            raise ValueError(f"unexpected status answer: {answer!r}")
        self._member_id = int(answer["header"]["member_id"])
        return answer

    def leader_id(self, timeout: float = 1.0) -> int:
        """The raft leader this member believes in (0 if it knows none)."""
        return int(self.status(timeout).get("leader") or 0)  # etcd omits a zero leader

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Poll ``/health`` until healthy.

        Raises:
            EtcdStartError: the process exited or ``timeout`` passed (the message ends with
                the tail of etcd's log).
        """
        budget = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        while True:
            proc = self._state.proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise EtcdStartError(self.failure_message(f"etcd exited with status {code}"))
            if self.is_healthy(timeout=max(0.05, min(1.0, deadline - time.monotonic()))):
                return
            if time.monotonic() >= deadline:
                raise EtcdStartError(self.failure_message(f"etcd not healthy after {budget:.1f} s"))
            time.sleep(_POLL_INTERVAL)

    def log_tail(self, max_chars: int = 3000) -> str:
        """The last ``max_chars`` characters of etcd's log ("" if there is none)."""
        if self._log_path is None:
            return ""
        try:
            with self._log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - max_chars))
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def command_line(self) -> list[str]:
        """The etcd command line ``start()`` runs (``<temporary>`` before a data dir exists)."""
        data_dir = self._data_dir or self._user_data_dir or "<temporary>"
        peer_url = self.peer_url
        args = [
            str(self._binary.path),
            f"--name={self._name}",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={self._initial_cluster or f'{self._name}={peer_url}'}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={self._token}",
        ]
        if self._binary.version >= (3, 4, 0):
            args += ["--logger=zap", f"--log-level={self._log_level}"]
        if self._heartbeat_ms is not None:
            args.append(f"--heartbeat-interval={self._heartbeat_ms}")
        if self._election_ms is not None:
            args.append(f"--election-timeout={self._election_ms}")
        if not self._fsync and self._binary.supports_unsafe_no_fsync:
            args.append("--unsafe-no-fsync")
        if self._auth_token_ttl is not None:
            args.append(f"--auth-token-ttl={self._auth_token_ttl}")
        if self._quota_backend_bytes is not None:
            args.append(f"--quota-backend-bytes={self._quota_backend_bytes}")
        if self._max_txn_ops is not None:
            args.append(f"--max-txn-ops={self._max_txn_ops}")
        if self._max_request_bytes is not None:
            args.append(f"--max-request-bytes={self._max_request_bytes}")
        if self._snapshot_count is not None:
            args.append(f"--snapshot-count={self._snapshot_count}")
        if self._tls is not None:
            args += self._tls.etcd_args()
        if self._crash_safe and self._binary.loses_writes_when_killed:
            for flag, value in _CRASH_SAFE_FLAGS:
                if any(a.startswith(flag) for a in args[1:] + list(self._extra_args)):
                    continue  # set by the caller
                args.append(f"{flag}={value}")
        args += self._extra_args
        return args

    # ------------------------------------------------------------------ internals

    def _ensure_ports(self) -> None:
        if self._client_port is None:
            self._client_port = free_port(self._host)
        if self._peer_port is None:
            self._peer_port = free_port(self._host)

    def _prepare_dirs(self) -> bool:
        """Make sure the data directory and log path exist; True if the data is fresh."""
        if self._data_dir is None:
            if self._user_data_dir is not None:
                self._data_dir = self._user_data_dir
                self._log_path = self._user_log_path
                if self._log_path is None:
                    owned = Path(tempfile.mkdtemp(prefix="etcd-recipes-log-"))
                    self._own(owned)
                    self._log_path = owned / f"{self._name}.log"
            else:
                owned = Path(tempfile.mkdtemp(prefix="etcd-recipes-"))
                self._own(owned)
                self._data_dir = owned / f"{self._name}.etcd"
                self._log_path = self._user_log_path or owned / f"{self._name}.log"
        return not (self._data_dir / "member").exists()

    def _own(self, path: Path) -> None:
        self._state.owned_dir = path
        _reaper.add_dir(path)

    def _spawn(self) -> None:
        if self._state.proc is not None:  # it died by itself: reap and unregister it first
            self._terminate(graceful=False, timeout=5.0)
        self._ensure_ports()
        args = self.command_line()
        assert self._log_path is not None
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log:
            log.write(f"--- etcd-recipes: {' '.join(args)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(self._env),
                start_new_session=True,
                close_fds=True,
            )
        self._state.proc = proc
        self._paused = False
        _reaper.add_group(proc.pid)

    def _terminate(self, *, graceful: bool, timeout: float) -> None:
        proc = self._state.proc
        if proc is None:
            return
        if proc.poll() is None:
            if graceful:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                    os.killpg(proc.pid, signal.SIGCONT)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
            else:
                _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        _reaper.remove_group(proc.pid)
        self._state.proc = None
        self._paused = False

    def _wait_stopped(self, stopped: bool, timeout: float = 2.0) -> None:
        """Wait until all threads are (or none is) in the stopped state ``T``; Linux only."""
        pid = self.pid
        if pid is None:
            return
        tasks = Path(f"/proc/{pid}/task")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = [
                    (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    for task in tasks.iterdir()
                ]
            except (OSError, IndexError):
                return  # no procfs, or the process is gone
            if all((state in "tT") is stopped for state in states):
                return
            time.sleep(0.001)

    def _signal(self, signum: int) -> None:
        proc = self._state.proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"etcd {self._name!r} is not running")
        os.killpg(proc.pid, signum)

    def failure_message(self, what: str) -> str:
        """``what``, followed by the binary, the log path and the tail of etcd's log."""
        tail = self.log_tail()
        return f"{what} ({self._binary.path}, log {self._log_path}); log tail:\n{tail}"
