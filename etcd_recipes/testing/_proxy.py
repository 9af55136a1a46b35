"""A small TCP proxy for fault injection between a client and one etcd member.

It forwards bytes and understands nothing, so gRPC over HTTP/2 passes through unchanged. One
background thread runs a ``selectors`` loop over every socket; the fault switches only change
what that loop does next.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

__all__ = ["FaultProxy"]

_CHUNK = 65536
_MAX_BUFFERED = 4 * 1024 * 1024  # per direction; beyond this we stop reading (back-pressure)


@dataclass
class _Direction:
    """Bytes flowing from ``src`` to ``dst``."""

    src: socket.socket
    dst: socket.socket
    scheduled: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    outbuf: bytearray = field(default_factory=bytearray)
    buffered: int = 0
    read_eof: bool = False
    write_shut: bool = False
    forwarded: int = 0


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    connecting: bool = True
    up: _Direction = field(init=False)
    down: _Direction = field(init=False)

    def __post_init__(self) -> None:
        self.up = _Direction(self.client, self.upstream)
        self.down = _Direction(self.upstream, self.client)

    def sockets(self) -> tuple[socket.socket, socket.socket]:
        return (self.client, self.upstream)


def _set_rst(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class FaultProxy:
    """Forward TCP connections from ``endpoint`` to ``target_host:target_port``, with faults.

    Point a client at ``proxy.endpoint`` instead of the member's endpoint, then:

    * ``set_latency(s)`` delays every forwarded chunk by ``s`` seconds (each direction);
    * ``blackhole()`` keeps connections open but forwards nothing either way (a dead or
      partitioned peer: requests and keep-alive pings go unanswered); data already sent waits
      and flows again after ``pass_through()``, like a healed partition;
    * ``reset_connections()`` closes every current connection with a TCP RST on both sides;
    * ``pass_through()`` returns to normal forwarding (no latency, no blackhole).

    Example::

        with FaultProxy("127.0.0.1", server.client_port) as proxy:
            client = etcd_recipes.Client(endpoints=[proxy.endpoint])
            proxy.blackhole()
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self._listen_host = listen_host
        self._listen_port = listen_port
        self._latency = 0.0
        self._blackholed = False
        self._conns: list[_Conn] = []
        self._commands: collections.deque[tuple[Callable[[], None], threading.Event]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._selector: selectors.BaseSelector | None = None
        self._registered: dict[socket.socket, int] = {}
        self._accepted = 0
        self._forwarded_up = 0
        self._forwarded_down = 0

    # ------------------------------------------------------------------ public

    @property
    def port(self) -> int:
        """The port the proxy listens on (known after the first ``start()``; kept by restarts)."""
        if not self._listen_port:
            raise RuntimeError("FaultProxy is not started")
        return self._listen_port

    @property
    def endpoint(self) -> str:
        """``"host:port"`` to give a client instead of the target's."""
        return f"{self._listen_host}:{self.port}"

    @property
    def target(self) -> str:
        """``"host:port"`` of the proxied server."""
        return f"{self.target_host}:{self.target_port}"

    @property
    def latency(self) -> float:
        """The current added delay per chunk, in seconds."""
        return self._latency

    @property
    def blackholed(self) -> bool:
        """Whether forwarding is suspended."""
        return self._blackholed

    @property
    def connection_count(self) -> int:
        """How many client connections are currently open through the proxy."""
        return len(self._conns)

    @property
    def accepted_count(self) -> int:
        """How many client connections the proxy accepted since ``start()``."""
        return self._accepted

    @property
    def bytes_forwarded(self) -> tuple[int, int]:
        """Bytes delivered so far: ``(client -> target, target -> client)``."""
        return (self._forwarded_up, self._forwarded_down)

    def start(self) -> FaultProxy:
        """Listen and start the forwarding thread."""
        if self._running:
            raise RuntimeError("FaultProxy already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self._listen_host, self._listen_port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self._listener = listener
        self._listen_port = int(listener.getsockname()[1])  # a restart keeps the port
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._running = True
        self._registered = {}
        self._accepted = 0
        self._thread = threading.Thread(
            target=self._run, name=f"FaultProxy-{self.port}->{self.target}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection (with RST) and the listener; join the thread."""
        if not self._running:
            return
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    def set_latency(self, seconds: float) -> None:
        """Delay each chunk read from now on by ``seconds`` before forwarding it."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._latency = float(seconds)
        self._wake()

    def blackhole(self, on: bool = True) -> None:
        """Stop (``on=True``) or restart (``on=False``) forwarding in both directions.

        Connections stay open and new ones are accepted, but no byte moves: the proxy stops
        reading, so senders' buffers fill up as they would towards a dead host.
        """
        self._blackholed = on
        self._wake()

    def pass_through(self) -> None:
        """Forward normally again: no latency, no blackhole."""
        self._latency = 0.0
        self._blackholed = False
        self._wake()

    def reset_connections(self, timeout: float = 5.0) -> int:
        """Abort every current connection with a TCP RST to both sides; how many were open.

        Returns once the sockets are closed. New connections are accepted as usual.
        """
        counted: list[int] = []

        def reset_all() -> None:
            counted.append(len(self._conns))
            for conn in list(self._conns):
                self._abort(conn)

        self._call(reset_all, timeout)
        return counted[0] if counted else 0

    def __enter__(self) -> FaultProxy:
        if not self._running:
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
        where = self.endpoint if self._listen_port else "-"
        mode = "blackhole" if self._blackholed else f"latency={self._latency}s"
        return f"<FaultProxy {where} -> {self.target} {mode} conns={len(self._conns)}>"

    # ------------------------------------------------------------------ loop

    def _wake(self) -> None:
        sock = self._wake_w
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.send(b"x")

    def _call(self, func: Callable[[], None], timeout: float) -> None:
        if not self._running:
            func()
            return
        done = threading.Event()
        with self._lock:
            self._commands.append((func, done))
        self._wake()
        if not done.wait(timeout):
            raise TimeoutError("FaultProxy did not process the command in time")

    def _run(self) -> None:
        selector = self._selector = selectors.DefaultSelector()
        assert self._listener is not None and self._wake_r is not None
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while self._running:
                self._run_commands()
                now = time.monotonic()
                for conn in list(self._conns):
                    self._pump(conn, now)
                timeout = self._sync_interest()
                for key, events in selector.select(timeout):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        conn = key.data
                        assert isinstance(conn, _Conn)
                        if conn in self._conns:
                            self._on_ready(conn, key.fileobj, events)  # type: ignore[arg-type]
        finally:
            for conn in list(self._conns):
                self._abort(conn)
            self._run_commands()
            selector.close()
            self._selector = None
            self._listener.close()
            self._listener = None

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                func, done = self._commands.popleft()
            try:
                func()
            finally:
                done.set()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(client, upstream)
            code = upstream.connect_ex((self.target_host, self.target_port))
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                self._abort(conn)
                continue
            conn.connecting = code != 0
            self._accepted += 1
            self._conns.append(conn)

    def _on_ready(self, conn: _Conn, sock: socket.socket, events: int) -> None:
        if sock is conn.upstream and conn.connecting:
            if not events & selectors.EVENT_WRITE:
                return
            err = conn.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._abort(conn)  # target refused: the client sees a reset
                return
            conn.connecting = False
        if events & selectors.EVENT_READ:
            direction = conn.up if sock is conn.client else conn.down
            self._read(conn, direction)
        # Writes are attempted by _pump on every loop turn.

    def _read(self, conn: _Conn, direction: _Direction) -> None:
        try:
            data = direction.src.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._abort(conn)
            return
        if not data:
            direction.read_eof = True
            return
        direction.scheduled.append((time.monotonic() + self._latency, data))
        direction.buffered += len(data)

    def _pump(self, conn: _Conn, now: float) -> None:
        if conn.connecting or self._blackholed:
            return
        for direction in (conn.up, conn.down):
            while direction.scheduled and direction.scheduled[0][0] <= now:
                direction.outbuf += direction.scheduled.popleft()[1]
            if direction.outbuf:
                try:
                    sent = direction.dst.send(direction.outbuf)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    self._abort(conn)
                    return
                del direction.outbuf[:sent]
                direction.buffered -= sent
                direction.forwarded += sent
                if direction is conn.up:
                    self._forwarded_up += sent
                else:
                    self._forwarded_down += sent
            if (
                direction.read_eof
                and not direction.write_shut
                and not direction.scheduled
                and not direction.outbuf
            ):
                with contextlib.suppress(OSError):
                    direction.dst.shutdown(socket.SHUT_WR)
                direction.write_shut = True
        if conn.up.write_shut and conn.down.write_shut:
            self._close(conn)

    def _sync_interest(self) -> float | None:
        """Register what each socket waits for; return how long the loop may sleep."""
        selector, registered = self._selector, self._registered
        assert selector is not None
        wanted: dict[socket.socket, tuple[int, _Conn]] = {}
        timeout: float | None = None
        now = time.monotonic()
        for conn in self._conns:
            if conn.connecting:
                wanted[conn.upstream] = (selectors.EVENT_WRITE, conn)
                if not self._blackholed:
                    mask = 0 if conn.up.buffered >= _MAX_BUFFERED else selectors.EVENT_READ
                    wanted[conn.client] = (mask, conn)
                continue
            masks = {conn.client: 0, conn.upstream: 0}
            for direction in (conn.up, conn.down):
                if self._blackholed:
                    continue
                if not direction.read_eof and direction.buffered < _MAX_BUFFERED:
                    masks[direction.src] |= selectors.EVENT_READ
                if direction.outbuf:
                    masks[direction.dst] |= selectors.EVENT_WRITE
                if direction.scheduled:
                    wait = max(0.0, direction.scheduled[0][0] - now)
                    timeout = wait if timeout is None else min(timeout, wait)
            for sock, mask in masks.items():
                wanted[sock] = (mask, conn)
        for sock in list(registered):
            if sock not in wanted or wanted[sock][0] == 0:
                self._unregister(sock)
        for sock, (mask, conn) in wanted.items():
            if mask == 0:
                continue
            if sock not in registered:
                selector.register(sock, mask, conn)
            elif registered[sock] != mask:
                selector.modify(sock, mask, conn)
            registered[sock] = mask
        return timeout

    def _abort(self, conn: _Conn) -> None:
        for sock in conn.sockets():
            _set_rst(sock)
        self._close(conn)

    def _unregister(self, sock: socket.socket) -> None:
        if self._registered.pop(sock, None) is not None and self._selector is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(sock)

    def _close(self, conn: _Conn) -> None:
        for sock in conn.sockets():
            self._unregister(sock)  # before close(), while the descriptor is still ours
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(ValueError):
            self._conns.remove(conn)
