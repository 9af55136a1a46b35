"""Connections to the cluster's members, and the single place where calls are made, timed out,
retried, failed over and have their errors mapped to ours.

One gRPC channel per endpoint, opened on first use. Every call goes to the *current* member
(pinned: a client's watches and keep-alives share it); when it fails it is penalised for a while
and the next endpoint that is not becomes current (``_core.endpoints``), and the streams bound to
it move (``add_member_listener``). A member fails when:

* the transport fails: connection refused, socket closed, ping timeout (gRPC keepalive noticed
  a dead peer), GOAWAY;
* etcd answers "no leader" (KV, Lease and Watch calls carry the ``hasleader`` metadata, so a
  member that lost its leader says so at once instead of queueing the request), "server
  stopped", "not capable", or that it is a learner;
* an attempt of a safe call (one that writes nothing) reaches its own deadline with nothing
  answered by that member since the attempt began: such attempts run with a deadline of at most
  ``attempt_timeout`` (1 s, doubling per attempt), so a paused or blackholed member costs one
  such deadline before the call moves on.

Safe calls are retried (tenacity: exponential backoff with jitter, first retry at once) until
their deadline, or for ``retry_timeout`` when they have none, and no call outlives its deadline;
the error raised is the most telling one met ("no leader" before "unavailable" before "could
not connect" or a deadline). A write is retried only when it certainly was not applied;
otherwise it raises with ``outcome_unknown=True``. Once the client is LOST (connected before, then
nothing succeeded for ``retry_timeout``), calls fail at once without sending anything (a circuit
breaker) until the background probe, every 0.5 s, finds a member with a leader again.

Connection state (``state``, ``add_state_listener``): see ``etcd_recipes._core.state``. While
the client is SUSPENDED a background probe (Maintenance.Status with ``hasleader``) looks for a
healthy member, so the state comes back to CONNECTED without the application calling anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential, wait_random

from .. import _exceptions as exc
from .._core.endpoints import (
    Endpoint,
    EndpointHealth,
    channel_options,
    grpc_target,
    member_endpoints,
    next_index,
    parse_endpoints,
)
from .._core.errors import Verdict, assess, most_telling, status_of
from .._core.state import ConnectionState, StateListener, StateListeners
from .._pb import rpc_pb2, rpc_pb2_grpc
from . import _backend as backend

log = logging.getLogger("etcd_recipes.connection")

_SERVICES: dict[str, Any] = {
    "kv": rpc_pb2_grpc.KVStub,
    "watch": rpc_pb2_grpc.WatchStub,
    "lease": rpc_pb2_grpc.LeaseStub,
    "cluster": rpc_pb2_grpc.ClusterStub,
    "maintenance": rpc_pb2_grpc.MaintenanceStub,
    "auth": rpc_pb2_grpc.AuthStub,
}
# Services whose calls need a leader: with ``hasleader`` etcd refuses them at once without one.
_LEADER_SERVICES = frozenset({"kv", "watch", "lease"})
_HASLEADER: tuple[tuple[str, str], ...] = (("hasleader", "true"),)
# A member still naming a failed member as leader this long after the failure is believed.
_FOLLOWS_FAILED_FOR = 10.0
_CONNECTED = ConnectionState.CONNECTED

MemberListener = Callable[["Member"], Any]


class Method:
    """A gRPC method of a service, resolved on the member a call goes to.

    ``conn.kv.Put`` is one; ``conn.unary(conn.kv.Put, ...)`` calls it with failover, and calling
    it directly (``conn.maintenance.Snapshot(request, metadata=...)``) uses the current member.
    """

    __slots__ = ("_conn", "adapter", "key", "leader", "name", "service")

    def __init__(
        self,
        conn: AsyncConnection,
        service: str,
        name: str,
        adapter: Callable[[Any], Any] | None = None,
        tag: str = "",
    ) -> None:
        self._conn = conn
        self.service = service
        self.name = name
        self.adapter = adapter
        self.key = f"{service}.{name}{tag}"
        self.leader = service in _LEADER_SERVICES

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._conn.member.callable(self)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Method {self.key}>"


class Service:
    """The methods of one etcd service (``conn.kv``, ``conn.lease`` ...), as ``Method`` objects."""

    def __init__(self, conn: AsyncConnection, name: str) -> None:
        self._conn = conn
        self._name = name

    def __getattr__(self, name: str) -> Method:
        if name.startswith("_"):
            raise AttributeError(name)
        method = Method(self._conn, self._name, name)
        setattr(self, name, method)  # later look-ups find the attribute directly
        return method


class Member:
    """One endpoint: its gRPC channel (opened on first use), its stubs and its health."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: grpc.ChannelCredentials | None,
        options: list[tuple[str, Any]],
    ) -> None:
        self.endpoint = endpoint
        self.health = EndpointHealth()
        self.verified = False
        """True once a probe or a write succeeded here since the member last became current: its
        leader works. A write goes only to a verified member (else a probe goes first)."""
        self.member_id = 0
        """The member's raft id, learnt from its first Status answer (0: not known yet)."""
        self._credentials = credentials
        self._options = options
        self._channel: Any = None
        self._channel_lock = backend.ShortLock()
        self._stubs: dict[str, Any] = {}
        self._fns: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Member {self.endpoint}>"

    @property
    def channel(self) -> Any:
        """The member's gRPC channel."""
        channel = self._channel
        if channel is None:
            with self._channel_lock:  # threads: one channel per member, not one each
                if self._channel is None:
                    self._channel = backend.create_channel(
                        grpc_target(self.endpoint), self._credentials, self._options
                    )
                channel = self._channel
        return channel

    def stub(self, service: str) -> Any:
        """The gRPC stub of ``service`` (``"kv"``, ``"maintenance"`` ...) on this member."""
        stub = self._stubs.get(service)
        if stub is None:
            stub = self._stubs[service] = _SERVICES[service](self.channel)
        return stub

    def callable(self, method: Method) -> Any:
        """``method``'s gRPC multi-callable on this member."""
        fn = self._fns.get(method.key)
        if fn is None:
            fn = getattr(self.stub(method.service), method.name)
            if method.adapter is not None:
                fn = method.adapter(fn)
            self._fns[method.key] = fn
        return fn

    async def close(self) -> None:
        """Close the channel (calls on it are cancelled)."""
        channel, self._channel = self._channel, None
        self._stubs.clear()
        self._fns.clear()
        if channel is not None:
            await backend.close_channel(channel)


class _Again(Exception):
    """Internal: the attempt failed and may be retried."""


class _Stop(Exception):
    """Internal: the attempt failed for good; raise ``error``."""

    def __init__(self, error: exc.EtcdError) -> None:
        super().__init__(str(error))
        self.error = error


class AsyncConnection:
    """Channels to the cluster's members shared by a client's APIs (KV, lease, watch, recipes)."""

    def __init__(
        self,
        endpoints: str | Sequence[str],
        *,
        dial_timeout: float,
        timeout: float | None,
        retry_timeout: float,
        keepalive_time: float | None,
        keepalive_timeout: float,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        auto_sync_interval: float | None = None,
    ) -> None:
        if dial_timeout <= 0:
            raise exc.InvalidArgumentError(f"dial_timeout must be > 0, not {dial_timeout}")
        if timeout is not None and timeout <= 0:
            raise exc.InvalidArgumentError(f"timeout must be > 0 or None, not {timeout}")
        if retry_timeout <= 0:
            raise exc.InvalidArgumentError(f"retry_timeout must be > 0, not {retry_timeout}")
        if auto_sync_interval is not None and auto_sync_interval <= 0:
            raise exc.InvalidArgumentError(
                f"auto_sync_interval must be > 0 or None, not {auto_sync_interval}"
            )
        parsed = parse_endpoints(endpoints)
        self.dial_timeout = dial_timeout
        self.timeout = timeout
        self.retry_timeout = retry_timeout
        self.attempt_timeout = 1.0
        """First attempt deadline of a safe call (doubled per attempt, never past the call's)."""
        self.auto_sync_interval = auto_sync_interval
        if credentials is None and any(e.secure for e in parsed):
            credentials = grpc.ssl_channel_credentials()
        self._credentials = credentials
        self._options = channel_options(
            keepalive_time=keepalive_time, keepalive_timeout=keepalive_timeout, extra=options
        )
        self._members = [Member(e, credentials, self._options) for e in parsed]
        self._current = self._members[0]
        self._auth_md: tuple[tuple[str, str], ...] | None = None
        self._md_plain: tuple[tuple[str, str], ...] | None = None
        self._md_leader: tuple[tuple[str, str], ...] = _HASLEADER
        # The same, built once as the metadata object unary calls take (grpc.aio would convert
        # a tuple into a grpc.aio.Metadata on every call).
        self._call_md_plain: Any = None
        self._call_md_leader: Any = backend.unary_metadata(_HASLEADER)
        # Set by the auth layer: refreshes ``metadata`` (the token) after InvalidAuthTokenError.
        self.reauthenticate: Callable[[], Awaitable[None]] | None = None
        self.closed = False
        self._closed_event = backend.Event()
        self._lock = backend.ShortLock()
        self._state = ConnectionState.LOST
        self._was_connected = False
        # LOST after having been connected: calls fail at once (a circuit breaker), with the most
        # telling error met since the trouble began; the health probe closes it again.
        self._failing_fast = False
        self._trouble: exc.EtcdError | None = None
        self._trouble_since = 0.0
        self._listeners = StateListeners("client")
        self._member_listeners: list[MemberListener] = []
        self._monitor: backend.Task | None = None
        self._syncer: backend.Task | None = None
        self.kv = Service(self, "kv")
        self.watch = Service(self, "watch")
        self.lease = Service(self, "lease")
        self.cluster = Service(self, "cluster")
        self.maintenance = Service(self, "maintenance")
        self.auth = Service(self, "auth")
        self._adapted: dict[str, Method] = {}
        # Raft ids of members whose process went away lately (-> when): a member still following
        # one of them as leader would forward writes into the void, so it does not pass a probe.
        self._failed_ids: dict[int, float] = {}

    # ------------------------------------------------------------------ members

    @property
    def endpoints(self) -> list[Endpoint]:
        """The endpoints in use (auto-sync may change them)."""
        return [m.endpoint for m in self._members]

    @property
    def members(self) -> list[Member]:
        """One ``Member`` per endpoint (``unary(..., member=m)`` pins a call to one)."""
        return list(self._members)

    @property
    def member(self) -> Member:
        """The member calls go to now."""
        return self._current

    @property
    def target(self) -> str:
        """The endpoints, comma-separated (for reprs and messages)."""
        return ",".join(str(m.endpoint) for m in self._members)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...] | None:
        """Metadata sent with every call (the auth token, set by the auth layer).

        KV, Lease and Watch calls also carry ``hasleader`` (see ``call_metadata``).
        """
        return self._auth_md

    @metadata.setter
    def metadata(self, value: Sequence[tuple[str, str]] | None) -> None:
        self._auth_md = tuple(value) if value else None
        self._md_plain = self._auth_md
        self._md_leader = _HASLEADER + (self._auth_md or ())
        self._call_md_plain = backend.unary_metadata(self._md_plain)
        self._call_md_leader = backend.unary_metadata(self._md_leader)

    def call_metadata(self, leader: bool = True) -> tuple[tuple[str, str], ...] | None:
        """The metadata for a call; ``leader`` adds ``hasleader`` (refuse without a leader)."""
        return self._md_leader if leader else self._md_plain

    def adapted(self, method: Method, adapter: Callable[[Any], Any], tag: str) -> Method:
        """``method`` whose per-member callable is ``adapter(multi-callable)``: lets a stream
        used for a single answer (a one-off lease refresh) go through ``unary``'s failover."""
        key = method.key + tag
        found = self._adapted.get(key)
        if found is None:
            found = self._adapted[key] = Method(self, method.service, method.name, adapter, tag)
        return found

    def add_member_listener(self, listener: MemberListener) -> None:
        """Call ``listener(member)`` when a member fails or is removed (streams bound to it move)."""
        self._member_listeners.append(listener)

    def remove_member_listener(self, listener: MemberListener) -> None:
        """Stop calling ``listener``."""
        try:
            self._member_listeners.remove(listener)
        except ValueError:
            pass

    def member_failed(self, member: Member, reason: object, *, gone: bool = False) -> None:
        """Penalise ``member``; if it is current, move to the next healthy endpoint. ``gone``:
        its process is gone or stopping (not merely unreachable from here)."""
        now = backend.monotonic()
        with self._lock:
            was_penalised = member.health.penalised(now)
            penalty = member.health.fail(now)
            switched = None
            member.verified = False
            if gone and member.member_id:
                self._failed_ids[member.member_id] = now
            if member is self._current and len(self._members) > 1:
                health = [m.health for m in self._members]
                index = self._members.index(member) if member in self._members else 0
                self._current = self._members[next_index(health, index, now)]
                self._current.verified = False
                switched = self._current
        level = logging.DEBUG if was_penalised else logging.INFO
        if switched is not None and switched is not member:
            log.log(level, "etcd member %s failed (%s); using %s", member, reason, switched)
        else:
            log.log(level, "etcd member %s failed (%s); avoided %.1fs", member, reason, penalty)
        for listener in list(self._member_listeners):
            try:
                listener(member)
            except Exception:
                log.exception("member listener failed")

    def note_success(self, member: Member, sent_at: float) -> None:
        """Record a successful round trip with ``member`` whose request was sent at ``sent_at``."""
        health = member.health
        if sent_at > health.last_ok:
            health.last_ok = sent_at
        if self._failed_ids:
            self._failed_ids.pop(member.member_id, None)  # it is back
        if self._state is not _CONNECTED:
            self._set_state(_CONNECTED)

    def assess_failure(
        self,
        error: BaseException,
        member: Member,
        started: float,
        *,
        mutating: bool,
        what: str,
        capped: bool = False,
    ) -> Verdict:
        """Judge a failed call or stream on ``member`` (begun at ``started``): penalise the
        member and update the connection state as needed; returns the verdict."""
        code, details = status_of(error)
        verdict = assess(code, details, mutating=mutating, what=what, capped=capped)
        if verdict.member_failed or (verdict.suspect and member.health.last_ok < started):
            self.member_failed(member, verdict.error, gone=verdict.gone)
        if verdict.trouble and self._last_ok() < started:
            trouble = self._trouble
            self._trouble = (
                verdict.error if trouble is None else most_telling(trouble, verdict.error)
            )
            self._suspend()
        return verdict

    def stalled(self, member: Member, started: float, reason: str) -> None:
        """A stream on ``member`` got no answer since ``started``: unless something else
        succeeded there meanwhile, give up the member (and suspend if nothing succeeded)."""
        if member.health.last_ok < started:
            self.member_failed(member, reason)
        if self._last_ok() < started:
            self._suspend()

    def _last_ok(self) -> float:
        return max(m.health.last_ok for m in self._members)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> ConnectionState:
        """CONNECTED, SUSPENDED or LOST (see ``etcd_recipes._core.state``)."""
        return self._state

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(state)`` on every change of ``state``."""
        self._listeners.add(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            if self._state is state or (self.closed and state is not ConnectionState.LOST):
                return
            self._state = state
            if state is _CONNECTED:
                self._was_connected = True
                self._trouble = None
            self._failing_fast = state is ConnectionState.LOST and self._was_connected
            self._listeners.queue(state)  # in the order of the changes
        log.info("etcd client %s", state.name)
        self._listeners.deliver()

    def _suspend(self) -> None:
        if self._state is not _CONNECTED or self.closed:
            return
        self._trouble_since = backend.monotonic()
        self._set_state(ConnectionState.SUSPENDED)
        with self._lock:
            start = self._monitor is None or self._monitor.done()
            if start:
                self._monitor = backend.spawn(self._watch_health, name="etcd-health")

    async def _watch_health(self) -> None:
        """While not CONNECTED: probe the current member; declare LOST after retry_timeout."""
        delay = 0.05
        while not self.closed and self._state is not _CONNECTED:
            await self._probe(self._current, self.attempt_timeout)
            if self.closed or self._state is _CONNECTED:
                break
            if (
                self._state is ConnectionState.SUSPENDED
                and backend.monotonic() - self._last_ok() >= self.retry_timeout
            ):
                self._set_state(ConnectionState.LOST)
            await backend.wait_event(self._closed_event, delay)
            delay = min(delay * 2, 0.5)

    async def _probe(
        self, member: Member, timeout: float, what: str = "status"
    ) -> exc.EtcdError | None:
        """One Status round trip with ``hasleader``: None if the member answered with a leader,
        else the error (worded for ``what``, the call the probe is made for)."""
        start = backend.monotonic()
        fn = member.callable(self.maintenance.Status)
        try:
            status = await fn(
                rpc_pb2.StatusRequest(), timeout=timeout, metadata=self._call_md_leader
            )
        except grpc.RpcError as error:
            verdict = self.assess_failure(
                error, member, start, mutating=False, what=what, capped=True
            )
            if verdict.trouble:
                return verdict.error
            status = None  # refused for another reason (auth...): it answered, with a leader
        leader = 0
        if status is not None:
            member.member_id = status.header.member_id
            leader = status.leader
        failed_at = self._failed_ids.get(leader) if leader else None
        if failed_at is not None and leader != member.member_id:
            if start - failed_at < _FOLLOWS_FAILED_FOR and not await self._back(leader, timeout):
                # Its leader failed moments ago and it has not noticed yet (election timeout):
                # a write sent there would be forwarded into the void.
                return exc.NoLeaderError(f"{what}: {member} still follows a failed leader")
            self._failed_ids.pop(leader, None)
        member.verified = True
        self.note_success(member, start)
        return None

    async def _back(self, member_id: int, timeout: float) -> bool:
        """Whether the failed member ``member_id`` answers again (one short Status call)."""
        for member in self._members:
            if member.member_id == member_id:
                fn = member.callable(self.maintenance.Status)
                start = backend.monotonic()
                try:
                    await fn(rpc_pb2.StatusRequest(), timeout=min(timeout, 0.25))
                except grpc.RpcError:
                    return False
                self.note_success(member, start)
                return True
        return False

    # ------------------------------------------------------------------ lifecycle

    def check_open(self) -> None:
        """Raise ClientClosedError once the client is closed."""
        if self.closed:
            raise exc.ClientClosedError("the client is closed")

    async def connect(self) -> None:
        """Wait until a member answers with a leader, at most ``dial_timeout`` seconds; starts
        the auto-sync of endpoints if asked for."""
        self.check_open()
        deadline = backend.monotonic() + self.dial_timeout
        delay = 0.02
        error: exc.EtcdError | None = None
        while True:
            remaining = deadline - backend.monotonic()
            if remaining <= 0:
                names = ", ".join(str(e) for e in self.endpoints)
                why = f": {error}" if error is not None else ""
                raise exc.ConnectionFailedError(
                    f"could not connect to etcd at {names} within {self.dial_timeout}s{why}"
                )
            wait = remaining if len(self._members) == 1 else min(remaining, self.attempt_timeout)
            member = self._current
            failed = await self._probe(member, wait, "connect")
            if failed is None:
                break
            error = failed if error is None else most_telling(error, failed)
            self.check_open()
            now = backend.monotonic()
            if self._current is member or self._current.health.penalised(now):
                await backend.sleep(max(0.0, min(delay, deadline - now)))
                delay = min(delay * 2, 0.5)
        self._start_auto_sync()

    async def close(self) -> None:
        """Close every channel; later calls raise ClientClosedError."""
        if self.closed:
            return
        self.closed = True
        self._closed_event.set()
        tasks = [t for t in (self._monitor, self._syncer) if t is not None]
        for task in tasks:
            task.cancel()
        for member in self._members:
            await member.close()
        for task in tasks:
            await task.join(1.0)
        self._set_state(ConnectionState.LOST)

    async def refresh_auth(self) -> bool:
        """Renew the auth token through the auth layer's hook; False if there is none."""
        if self.reauthenticate is None:
            return False
        await self.reauthenticate()
        return True

    # ------------------------------------------------------------------ endpoints

    def _start_auto_sync(self) -> None:
        if self.auto_sync_interval and (self._syncer is None or self._syncer.done()):
            self._syncer = backend.spawn(self._auto_sync, name="etcd-auto-sync")

    async def _auto_sync(self) -> None:
        interval = self.auto_sync_interval or 60.0
        while not self.closed:
            if await backend.wait_event(self._closed_event, interval):
                break
            try:
                await self.sync_endpoints()
            except exc.EtcdError as error:
                log.info("endpoint auto-sync failed: %s", error)

    async def sync_endpoints(self, timeout: float | None = None) -> list[str]:
        """Replace the endpoints by the client URLs of the cluster's started voting members
        (MemberList); returns them. Channels of removed endpoints are closed."""
        request = rpc_pb2.MemberListRequest(linearizable=True)
        response = await self.unary(self.cluster.MemberList, request, timeout, False, "member list")
        urls = member_endpoints(response.members)
        if urls:
            await self.set_endpoints(urls)
        return [str(e) for e in self.endpoints]

    async def set_endpoints(self, endpoints: str | Sequence[str]) -> None:
        """Use ``endpoints`` from now on, keeping the channels of those already known."""
        self.check_open()
        parsed = parse_endpoints(endpoints)
        with self._lock:
            old = {str(m.endpoint): m for m in self._members}
            members = []
            for endpoint in parsed:
                member = old.pop(str(endpoint), None)
                members.append(member or Member(endpoint, self._credentials, self._options))
            self._members = members
            if self._current not in members:
                self._current = members[0]
                self._current.verified = False
        if old:
            log.info("etcd endpoints now %s", self.target)
        for member in old.values():
            for listener in list(self._member_listeners):
                try:
                    listener(member)
                except Exception:
                    log.exception("member listener failed")
            await member.close()

    # ------------------------------------------------------------------ calls

    async def unary(
        self,
        method: Any,
        request: Any,
        timeout: float | None,
        mutating: bool,
        what: str = "",
        *,
        member: Member | None = None,
        require_leader: bool | None = None,
    ) -> Any:
        """Call a unary RPC (a ``Method`` such as ``conn.kv.Put``) with failover and retries.

        ``timeout``: the call's deadline (None: the client's default; if that is None too, safe
        calls stop retrying after ``retry_timeout``). ``mutating``: the request writes, so it is
        retried only when it certainly was not applied. ``member`` pins the call to one member
        (no failover). ``require_leader``: send ``hasleader`` (default: for KV, Lease, Watch).
        """
        if self.closed:
            raise exc.ClientClosedError("the client is closed")
        if self._failing_fast:
            raise self._lost_error(what)
        if timeout is None:
            timeout = self.timeout
        pinned = member is not None
        if member is None:
            member = self._current
        if isinstance(method, Method):
            fn = member.callable(method)
            leader = method.leader if require_leader is None else require_leader
        else:  # a plain gRPC multi-callable: bound to its channel
            fn, leader, pinned = method, bool(require_leader), True
        if mutating or (timeout is not None and timeout <= self.attempt_timeout):
            attempt: float | None = timeout
        else:
            attempt = self.attempt_timeout
        start = backend.monotonic()
        if mutating and not member.verified and not pinned:
            member = await self._verified(member, start, timeout, what)
            fn = member.callable(method)
            if attempt is not None:
                attempt = start + attempt - backend.monotonic()
                if attempt <= 0:  # nothing was sent
                    raise exc.EtcdTimeoutError(
                        f"{what}: the deadline passed before a member answered"
                    )
        try:
            response = await fn(
                request,
                timeout=attempt,
                metadata=self._call_md_leader if leader else self._call_md_plain,
            )
        except grpc.RpcError as error:
            return await self._retry(
                method, request, timeout, mutating, what, leader, member, pinned, start, attempt,
                error,
            )  # fmt: skip
        health = member.health
        if start > health.last_ok:
            health.last_ok = start
        if mutating:
            member.verified = True  # a write committed through it: its leader works
        if self._state is not _CONNECTED:
            self._set_state(_CONNECTED)
        return response

    def _lost_error(self, what: str) -> exc.EtcdError:
        """The error a call raises at once while the client is LOST (nothing was sent)."""
        trouble = self._trouble
        cls = (
            type(trouble) if isinstance(trouble, exc.EtcdConnectionError) else exc.UnavailableError
        )
        since = backend.monotonic() - self._trouble_since
        last = f"; last error: {trouble.message}" if trouble is not None else ""
        return cls(
            f"{what}: no etcd member has served a request for {since:.1f}s "
            f"(client state LOST){last}",
            code=trouble.code if trouble is not None else None,
        )

    async def _verified(
        self, member: Member, start: float, timeout: float | None, what: str
    ) -> Member:
        """The member a write may go to: ``member`` or, if it fails a probe, another one that
        passes (within the call's deadline). Raises the probe's error (nothing was sent)."""
        until = start + (timeout if timeout is not None else self.retry_timeout)
        delay = 0.02
        error: exc.EtcdError | None = None
        while not member.verified:
            remaining = until - backend.monotonic()
            if remaining <= 0:
                if error is None:
                    raise exc.EtcdTimeoutError(f"{what}: no member answered in time")
                raise error
            failed = await self._probe(member, min(remaining, self.attempt_timeout), what)
            if failed is None:
                break
            error = failed if error is None else most_telling(error, failed)
            self.check_open()
            now = backend.monotonic()
            if self._current is member or self._current.health.penalised(now):
                await backend.sleep(max(0.0, min(delay, until - now)))
                delay = min(delay * 2, 0.05)  # a Status round trip is cheap; elections are short
            member = self._current
        return member

    async def _retry(
        self,
        method: Any,
        request: Any,
        timeout: float | None,
        mutating: bool,
        what: str,
        leader: bool,
        member: Member,
        pinned: bool,
        start: float,
        attempt: float | None,
        error: grpc.RpcError,
    ) -> Any:
        """Retry a call whose first attempt failed with ``error`` (see ``unary``)."""
        deadline = None if timeout is None else start + timeout
        until = deadline if deadline is not None else start + self.retry_timeout
        capped = attempt is not None and attempt != timeout
        verdict = self.assess_failure(
            error, member, start, mutating=mutating, what=what, capped=capped
        )
        reauthed = False
        if isinstance(verdict.error, exc.InvalidAuthTokenError) and self.reauthenticate:
            # The token expired (or the member changed): renew it once, then retry.
            reauthed = True
            await self.reauthenticate()
        elif not verdict.retry:
            raise verdict.error from error
        last: exc.EtcdError = verdict.error
        best = last
        cause: BaseException = error
        attempts = 1
        cap = self.attempt_timeout
        backoff = wait_exponential(multiplier=0.02, max=0.5) + wait_random(0, 0.02)
        retrying = AsyncRetrying(
            stop=lambda state: backend.monotonic() >= until,
            wait=lambda state: min(backoff(state), max(0.0, until - backend.monotonic())),
            retry=retry_if_exception_type(_Again),
            reraise=True,
        )
        try:
            async for round_ in retrying:
                with round_:
                    self.check_open()
                    now = backend.monotonic()
                    remaining = until - now
                    if remaining <= 0:
                        break
                    if self._failing_fast:
                        break  # the cluster has been unreachable for long: fail now
                    if mutating:
                        limit = None if deadline is None else remaining
                        capped = False
                    else:
                        cap *= 2
                        capped = deadline is None or cap < remaining
                        limit = cap if capped else remaining
                    if not pinned:
                        member = self._current
                        if mutating and not member.verified:
                            probe = min(remaining, self.attempt_timeout)
                            failed = await self._probe(member, probe, what)
                            if failed is not None:
                                best = most_telling(best, failed)
                                raise _Again  # nothing sent: try another member
                            now = backend.monotonic()
                            remaining = until - now
                            if remaining <= 0:
                                break
                            if deadline is not None:
                                limit = remaining
                    fn = member.callable(method) if isinstance(method, Method) else method
                    metadata = self._call_md_leader if leader else self._call_md_plain
                    attempts += 1
                    try:
                        response = await fn(request, timeout=limit, metadata=metadata)
                    except grpc.RpcError as failed:
                        cause = failed
                        verdict = self.assess_failure(
                            failed, member, now, mutating=mutating, what=what, capped=capped
                        )
                        last = verdict.error
                        if isinstance(last, exc.InvalidAuthTokenError) and self.reauthenticate:
                            if reauthed:
                                raise _Stop(last) from failed
                            reauthed = True
                            await self.reauthenticate()
                            raise _Again from failed
                        if not verdict.retry:
                            if verdict.suspect and not mutating:
                                # Out of time: report what was met on the way ("no leader"
                                # says more than the deadline). A write keeps its deadline
                                # error: that attempt may have been applied.
                                last = most_telling(best, last)
                                if last is not verdict.error:
                                    spent = backend.monotonic() - start
                                    last.message += f" [{attempts} attempts in {spent:.2f}s]"
                            raise _Stop(last) from failed
                        best = most_telling(best, last)
                        raise _Again from failed
                    if mutating:
                        member.verified = True
                    self.note_success(member, now)
                    return response
        except _Stop as stop:
            raise stop.error from cause
        except _Again:
            pass
        final = best
        elapsed = backend.monotonic() - start
        final.message += f" [{attempts} attempts in {elapsed:.2f}s]"
        raise final from cause
