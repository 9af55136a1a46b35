"""Tests of etcd_recipes.testing against real etcd processes (whatever $ETCD_BINARY selects).

Run once per binary, e.g. ``ETCD_BINARY=/usr/bin/etcd pytest tests/test_harness.py``.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from etcd_recipes.testing import (
    EtcdBinary,
    EtcdBinaryNotFound,
    EtcdCluster,
    EtcdServer,
    EtcdStartError,
    FaultProxy,
    TlsFiles,
    docker_available,
    find_etcd_binaries,
    find_etcd_binary,
)

# ---------------------------------------------------------------------------- helpers


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def pid_alive(pid: int) -> bool:
    """Whether a process (not a zombie) with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def gw_put(server: EtcdServer, key: str, value: str) -> None:
    """Put through etcd's JSON gateway."""
    server.request("/v3/kv/put", {"key": b64(key), "value": b64(value)})


def gw_get(server: EtcdServer, key: str) -> str | None:
    """Linearizable get through etcd's JSON gateway."""
    answer = server.request("/v3/kv/range", {"key": b64(key)})
    kvs = answer.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


def grpc_status(channel: grpc.Channel, timeout: float, wait_for_ready: bool = False) -> bytes:
    """Maintenance.Status over gRPC (HTTP/2) with raw bytes: no generated stubs needed."""
    call = channel.unary_unary(
        "/etcdserverpb.Maintenance/Status",
        request_serializer=None,
        response_deserializer=None,
    )
    answer: bytes = call(b"", timeout=timeout, wait_for_ready=wait_for_ready)
    return answer


@pytest.fixture(scope="module")
def binary() -> EtcdBinary:
    return find_etcd_binary()


# ---------------------------------------------------------------------------- binaries


def test_find_binaries(binary: EtcdBinary) -> None:
    found = find_etcd_binaries()
    assert found, "no etcd binary found"
    assert len({b.path for b in found}) == len(found)
    for item in found:
        assert item.path.is_file()
        assert item.version >= (3, 4, 0)
        assert item.version_string.count(".") == 2
        if item.etcdctl is not None:
            assert item.etcdctl.name == "etcdctl"
    if os.environ.get("ETCD_BINARY"):
        assert binary.path == Path(os.environ["ETCD_BINARY"]).resolve()
        assert binary.source == "env"


def test_bad_etcd_binary_env_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ETCD_BINARY", str(tmp_path / "nope"))
    with pytest.raises(EtcdBinaryNotFound):
        find_etcd_binary()
    # Other candidates are still listed.
    assert all(b.source != "env" for b in find_etcd_binaries())


# ---------------------------------------------------------------------------- one server


def test_server_lifecycle(binary: EtcdBinary) -> None:
    server = EtcdServer(binary, fsync=False)
    with server:
        assert server.running and server.pid is not None
        pid = server.pid
        host, port = server.endpoint.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) == server.client_port
        assert server.endpoints == [server.endpoint]
        assert server.client_url == f"http://{server.endpoint}"
        assert server.version == binary.version
        assert server.request("/health")["health"] == "true"
        status = server.status()
        assert int(status["leader"]) == server.member_id == int(status["header"]["member_id"])
        data_dir = server.data_dir
        assert data_dir is not None and (data_dir / "member").is_dir()
        assert server.log_path is not None and server.log_path.parent == data_dir.parent
    assert not server.running and server.pid is None
    assert not data_dir.exists() and not data_dir.parent.exists()
    assert not pid_alive(pid)
    server.stop()  # idempotent


@pytest.mark.parametrize("fsync", [False, True])
def test_fsync_flag_follows_version(binary: EtcdBinary, fsync: bool) -> None:
    with EtcdServer(binary, fsync=fsync) as server:
        argv = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        expected = not fsync and binary.version >= (3, 5, 0)
        assert (b"--unsafe-no-fsync" in argv) is expected
        assert binary.supports_unsafe_no_fsync is (binary.version >= (3, 5, 0))


def test_restart_keeps_data_and_ports(binary: EtcdBinary) -> None:
    # crash_safe: killed right after a write, etcd 3.5.0-3.5.2 may restart without it otherwise
    with EtcdServer(binary, fsync=False, crash_safe=True) as server:
        endpoint, member_id = server.endpoint, server.member_id
        gw_put(server, "/harness/a", "one")
        server.restart()  # graceful
        assert gw_get(server, "/harness/a") == "one"
        gw_put(server, "/harness/b", "two")
        old_pid = server.pid
        assert old_pid is not None
        server.kill()
        assert not server.running and not pid_alive(old_pid)
        server.start()
        assert server.endpoint == endpoint
        assert server.status()["header"]["member_id"] == str(member_id)
        assert gw_get(server, "/harness/a") == "one"
        assert gw_get(server, "/harness/b") == "two"


def test_pause_and_resume(binary: EtcdBinary) -> None:
    with EtcdServer(binary, fsync=False) as server:
        server.pause()
        assert server.paused and server.running
        with pytest.raises(OSError):
            server.request("/health", timeout=0.2)
        server.resume()
        assert not server.paused
        wait_until(server.is_healthy, 5, "health after resume")
        server.pause()
    # stop() of a paused server must not hang or leak.
    assert not server.running


def test_start_failure_shows_log_and_leaks_nothing(binary: EtcdBinary) -> None:
    server = EtcdServer(binary, extra_args=["--no-such-flag-xyz"], start_timeout=5)
    with pytest.raises(EtcdStartError, match="no-such-flag-xyz"):
        server.start()
    assert not server.running and server.data_dir is None


def test_etcd_environment_variables_do_not_leak_into_etcd(
    binary: EtcdBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # etcd treats ETCD_NAME as --name and refuses to start when both are given.
    monkeypatch.setenv("ETCD_NAME", "clash")
    with EtcdServer(binary, fsync=False) as server:
        assert server.is_healthy()


def test_etcd_dies_with_the_python_process(binary: EtcdBinary, tmp_path: Path) -> None:
    """The reaper kills etcd even when its parent is SIGKILLed (no atexit, no finalizers)."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from etcd_recipes.testing import EtcdServer
        server = EtcdServer({str(binary.path)!r}, fsync=False).start()
        print(server.pid, server.data_dir.parent, flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert child.stdout is not None
        pid_text, workdir = child.stdout.readline().split()
        etcd_pid = int(pid_text)
        assert pid_alive(etcd_pid)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=5)
        wait_until(lambda: not pid_alive(etcd_pid), 5, "etcd to be reaped")
        wait_until(lambda: not Path(workdir).exists(), 5, "temp dir removal")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def _make_tls(directory: Path) -> TlsFiles:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl executable")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    (directory / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")  # fmt: skip
    return TlsFiles(
        ca=directory / "ca.crt",
        cert=directory / "server.crt",
        key=directory / "server.key",
        client_cert_auth=True,
    )


def test_tls_hook(binary: EtcdBinary, tmp_path: Path) -> None:
    tls = _make_tls(tmp_path)
    with EtcdServer(binary, fsync=False, tls=tls) as server:
        assert server.client_url.startswith("https://")
        assert server.is_healthy()
        argv = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert b"--client-cert-auth" in argv
        # Trusting the CA but presenting no client certificate is refused.
        no_cert = ssl.create_default_context(cafile=str(tls.ca))
        with pytest.raises(OSError):
            urllib.request.urlopen(server.client_url + "/health", timeout=2, context=no_cert)


# ---------------------------------------------------------------------------- cluster


@pytest.fixture
def cluster(etcd_cluster: EtcdCluster) -> Iterator[EtcdCluster]:
    """The plugin's module-scoped cluster, healed after each test."""
    etcd_cluster.wait_ready(10)
    yield etcd_cluster
    etcd_cluster.heal(15)


def test_cluster_shape(cluster: EtcdCluster, binary: EtcdBinary) -> None:
    assert cluster.size == len(cluster.members) == 3
    assert cluster.version == binary.version
    assert len(set(cluster.endpoints)) == 3
    assert len({m.member_id for m in cluster.members}) == 3
    assert len({m.name for m in cluster.members}) == 3
    leader = cluster.leader()
    assert leader in cluster.members
    assert cluster.member_by_id(leader.member_id) is leader
    assert all(m.leader_id() == leader.member_id for m in cluster.members)
    assert len(cluster.followers()) == 2


def test_cluster_start_is_fast(binary: EtcdBinary) -> None:
    started = time.monotonic()
    with EtcdCluster(3, binary) as cluster:
        elapsed = time.monotonic() - started
        assert all(m.is_healthy() for m in cluster.members)
        directory = cluster.directory
        pids = [m.pid for m in cluster.members]
    assert elapsed < 3.0, f"3-member cluster took {elapsed:.2f} s"
    assert directory is not None and not directory.exists()
    assert not any(pid is not None and pid_alive(pid) for pid in pids)


def test_kill_leader_elects_new_leader_and_rejoins(cluster: EtcdCluster) -> None:
    old = cluster.leader()
    gw_put(old, "/harness/failover", "before")
    killed_at = time.monotonic()
    old.kill()
    new = cluster.leader(timeout=5)
    elapsed = time.monotonic() - killed_at
    assert new is not old
    assert elapsed < 1.5, f"new leader after {elapsed:.2f} s"
    gw_put(new, "/harness/failover", "after")

    index = cluster.members.index(old)
    cluster.restart(index)  # rejoins from its data dir (no --initial-cluster-state trouble)
    cluster.wait_ready(10)
    assert all(m.is_healthy() for m in cluster.members)
    assert gw_get(old, "/harness/failover") == "after"


def test_killed_members_come_back_with_every_write(cluster: EtcdCluster) -> None:
    """Members killed while writes flow restart with the same history as their peers (on etcd
    3.5.0-3.5.2 thanks to ``crash_safe``: etcd issue 13766 loses a write there otherwise)."""
    argv = Path(f"/proc/{cluster.members[0].pid}/cmdline").read_bytes().split(b"\0")
    flag = b"--backend-batch-interval=24h"
    assert (flag in argv) is cluster.binary.loses_writes_when_killed
    assert cluster.binary.loses_writes_when_killed is ((3, 5, 0) <= cluster.version < (3, 5, 3))
    stop = threading.Event()
    writes = [0]

    def writer() -> None:
        while not stop.is_set():
            for member in cluster.members:
                if member.running and not stop.is_set():
                    try:
                        gw_put(member, f"/harness/load/{writes[0] % 20}", "x" * 100)
                        writes[0] += 1
                    except OSError:
                        pass

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for victim in (0, 1, 2):
            target = 50 * (victim + 1)
            wait_until(lambda n=target: writes[0] >= n, 10, "writes before the kill")
            cluster.kill(victim)
            cluster.restart(victim)
            cluster.wait_ready(10)
    finally:
        stop.set()
        thread.join(10)

    def revisions() -> set[str]:
        return {m.status()["header"]["revision"] for m in cluster.members}

    wait_until(lambda: len(revisions()) == 1, 10, "the members to agree on the revision")


def test_pause_leader_then_resume(cluster: EtcdCluster) -> None:
    old = cluster.leader()
    index = cluster.members.index(old)
    cluster.pause(index)
    assert old.paused
    new = cluster.leader(timeout=5)
    assert new is not old
    gw_put(new, "/harness/paused", "x")
    cluster.resume(index)
    cluster.wait_ready(10)
    assert gw_get(old, "/harness/paused") == "x"


def test_graceful_restart_of_follower(cluster: EtcdCluster) -> None:
    follower = cluster.followers()[0]
    old_pid = follower.pid
    cluster.restart(cluster.members.index(follower))
    assert follower.pid != old_pid
    cluster.wait_ready(10)


def test_kill_majority_then_heal(cluster: EtcdCluster) -> None:
    survivor = cluster.members[0]
    cluster.kill(1)
    cluster.kill(2)
    wait_until(lambda: not survivor.is_healthy(0.3), 5, "lone member to lose quorum")
    with pytest.raises(TimeoutError):
        cluster.leader(timeout=0.6)
    cluster.heal(10)
    assert all(m.is_healthy() for m in cluster.members)


# ---------------------------------------------------------------------------- proxy


class EchoServer:
    """A threaded TCP echo server that records how its connections ended."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.endings: list[str] = []
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            worker = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            self._echo_until_closed(conn)

    def _echo_until_closed(self, conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    self.endings.append("eof")
                    return
                conn.sendall(data)
        except ConnectionResetError:
            self.endings.append("reset")
        except OSError:
            self.endings.append("closed")

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo.port) as fault_proxy:
        yield fault_proxy


def connect(proxy: FaultProxy) -> socket.socket:
    host, port = proxy.endpoint.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_proxy_forwards_bytes(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"hello"
        payload = os.urandom(3_000_000)
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert recv_exactly(sock, len(payload)) == payload
        sender.join(5)
    assert proxy.bytes_forwarded[0] >= len(payload) + 5
    wait_until(lambda: proxy.connection_count == 0, 5, "connection close")


def test_proxy_latency(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        proxy.set_latency(0.1)
        started = time.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        assert time.monotonic() - started >= 0.2  # 0.1 s each way
        proxy.pass_through()
        started = time.monotonic()
        sock.sendall(b"pong")
        assert recv_exactly(sock, 4) == b"pong"
        assert time.monotonic() - started < 0.1


def test_proxy_blackhole_holds_then_releases(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        wait_until(lambda: proxy.bytes_forwarded == (1, 1), 5, "counters")
        proxy.blackhole()
        forwarded = proxy.bytes_forwarded
        sock.sendall(b"lost?")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert proxy.bytes_forwarded == forwarded
        assert proxy.connection_count == 1  # still open
        proxy.pass_through()
        sock.settimeout(5)
        assert recv_exactly(sock, 5) == b"lost?"


def test_proxy_reset_connections(proxy: FaultProxy, echo: EchoServer) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        assert proxy.reset_connections() == 1
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    wait_until(lambda: "reset" in echo.endings, 5, "the upstream side to see a reset")
    # New connections work as usual.
    with connect(proxy) as sock:
        sock.sendall(b"again")
        assert recv_exactly(sock, 5) == b"again"


def test_proxy_grpc_to_etcd(etcd_server: EtcdServer) -> None:
    with FaultProxy("127.0.0.1", etcd_server.client_port) as proxy:
        channel = grpc.insecure_channel(proxy.endpoint)
        try:
            assert grpc_status(channel, timeout=5, wait_for_ready=True)
            proxy.blackhole()
            with pytest.raises(grpc.RpcError) as info:
                grpc_status(channel, timeout=0.3)
            assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            proxy.pass_through()
            assert grpc_status(channel, timeout=5)
            proxy.reset_connections()
            # A call racing the reset may fail on the dead connection; the next one reconnects.
            try:
                grpc_status(channel, timeout=5, wait_for_ready=True)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert grpc_status(channel, timeout=5, wait_for_ready=True)
            assert proxy.accepted_count >= 2
        finally:
            channel.close()


# ---------------------------------------------------------------------------- plugin, docker


def test_plugin_fixtures(
    etcd_server: EtcdServer, etcd_endpoints: list[str], etcd_key_prefix: str
) -> None:
    assert etcd_endpoints == etcd_server.endpoints
    assert etcd_key_prefix.startswith("/t/test_plugin_fixtures-")
    assert etcd_key_prefix.endswith("/")
    gw_put(etcd_server, etcd_key_prefix + "k", "v")
    assert gw_get(etcd_server, etcd_key_prefix + "k") == "v"


_seen_prefixes: list[str] = []


@pytest.mark.parametrize("round_", [1, 2])
def test_key_prefixes_are_unique(etcd_key_prefix: str, round_: int) -> None:
    assert etcd_key_prefix.startswith(f"/t/test_key_prefixes_are_unique_{round_}-")
    assert etcd_key_prefix not in _seen_prefixes
    _seen_prefixes.append(etcd_key_prefix)


@pytest.mark.docker
def test_container_backend() -> None:
    if not docker_available():
        pytest.skip("no Docker engine")
    from etcd_recipes.testing import EtcdContainer

    with EtcdContainer() as etcd:
        assert etcd.endpoints == [etcd.endpoint]
