"""Endpoints: parsing, gRPC targets and channel options, and the failover choice (pure code).

The client keeps one gRPC channel per endpoint and sends every call to one *current* endpoint
(pinned, like Go's clientv3 3.3 balancer: a client's watches and keep-alives share a member).
When the current endpoint fails (unreachable, stopping, no leader, a safe call's attempt
deadline passed with no answer) it is penalised for a while and the next endpoint that is not
penalised becomes current. ``EndpointHealth`` and ``next_index`` hold that decision.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidArgumentError

# An endpoint that failed is avoided for PENALTY_BASE seconds, doubled for each failure in a
# row (no success in between), at most PENALTY_MAX.
PENALTY_BASE = 1.0
PENALTY_MAX = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One member's client address."""

    host: str
    port: int
    secure: bool | None  # True for https://, False for http://, None when no scheme was given

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """Parse ``host:port``, ``http://host:port``, ``https://host:port`` or ``[v6]:port``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(f"an endpoint must be a non-empty 'host:port', not {text!r}")
    raw = text.strip()
    secure: bool | None = None
    for scheme, is_secure in (("https://", True), ("http://", False)):
        if raw.startswith(scheme):
            raw, secure = raw[len(scheme) :], is_secure
    raw = raw.rstrip("/")
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        port_text = rest.removeprefix(":") if sep else ""
    else:
        host, _, port_text = raw.rpartition(":")
        if not host:
            host, port_text = raw, "2379"
    try:
        port = int(port_text or "2379")
    except ValueError:
        raise InvalidArgumentError(f"bad port in endpoint {text!r}") from None
    if not host or not 0 < port < 65536:
        raise InvalidArgumentError(f"bad endpoint {text!r}")
    return Endpoint(host, port, secure)


def parse_endpoints(endpoints: str | Sequence[str]) -> list[Endpoint]:
    """Parse one endpoint or a list (a comma-separated string is accepted too); duplicates
    are dropped, order is kept."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    if not items:
        raise InvalidArgumentError("at least one endpoint is needed")
    parsed: list[Endpoint] = []
    seen: set[str] = set()
    for item in items:
        endpoint = parse_endpoint(item)
        if str(endpoint) not in seen:
            seen.add(str(endpoint))
            parsed.append(endpoint)
    return parsed


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def grpc_target(endpoint: Endpoint) -> str:
    """The gRPC target of one endpoint: ``ipv4:``/``ipv6:`` for IP literals (no resolver),
    else the host name (DNS)."""
    version = _ip_version(endpoint.host)
    if version == 4:
        return f"ipv4:{endpoint}"
    if version == 6:
        return f"ipv6:{endpoint}"
    return str(endpoint)


def channel_options(
    *,
    keepalive_time: float | None,
    keepalive_timeout: float,
    max_receive_bytes: int = 2**31 - 1,
    extra: Sequence[tuple[str, Any]] = (),
) -> list[tuple[str, Any]]:
    """gRPC channel options: unlimited receive size (etcd bounds it), fast reconnects, and
    keepalive pings while calls are active.

    etcd (``--grpc-keepalive-min-time``, 5 s by default) answers pings that come more often than
    that on a connection where it sends nothing with GOAWAY ``too_many_pings``; hence the
    client's 6 s default. ``grpc.http2.ping_timeout_ms`` is what makes grpcio (1.85) give up on
    an unanswered ping: ``grpc.keepalive_timeout_ms`` alone does not.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_receive_bytes),
        ("grpc.max_send_message_length", -1),
        ("grpc.enable_retries", 0),
        ("grpc.initial_reconnect_backoff_ms", 50),
        ("grpc.min_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]
    if keepalive_time:
        timeout_ms = int(keepalive_timeout * 1000)
        options += [
            ("grpc.keepalive_time_ms", int(keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", timeout_ms),
            ("grpc.http2.ping_timeout_ms", timeout_ms),
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.http2.max_pings_without_data", 0),
        ]
    options += list(extra)
    return options


def member_endpoints(members: Iterable[Any]) -> list[str]:
    """Client URLs of a MemberList answer, for auto-sync: started voting members only (a member
    not started yet has no name; learners serve no client requests), in the answer's order."""
    urls: list[str] = []
    for member in members:
        if not member.name or member.isLearner:
            continue
        for url in member.clientURLs:
            if url not in urls:
                urls.append(url)
    return urls


@dataclass(slots=True)
class EndpointHealth:
    """What the client knows of one endpoint (monotonic times)."""

    last_ok: float = float("-inf")
    """Send time of the latest call that succeeded there."""
    bad_until: float = float("-inf")
    """Avoid the endpoint until then."""
    failures: int = 0
    """Failures in a row (reset by a success after the last failure)."""
    failed_at: float = float("-inf")

    def penalised(self, now: float) -> bool:
        """True while the endpoint should be avoided."""
        return now < self.bad_until

    def fail(self, now: float) -> float:
        """Record a failure at ``now``; returns the penalty (seconds)."""
        if self.last_ok > self.failed_at:
            self.failures = 0  # it worked since its last failure: start the penalty over
        self.failures += 1
        self.failed_at = now
        penalty: float = min(PENALTY_BASE * 2.0 ** min(self.failures - 1, 16), PENALTY_MAX)
        self.bad_until = now + penalty
        return penalty


def next_index(health: Sequence[EndpointHealth], failed: int, now: float) -> int:
    """The endpoint to use after ``failed``: the next one in order that is not penalised;
    if every other one is, the one whose penalty ends first (``failed`` only if it is alone)."""
    count = len(health)
    if count <= 1:
        return 0
    others = [(failed + step) % count for step in range(1, count)]
    for index in others:
        if not health[index].penalised(now):
            return index
    return min(others, key=lambda index: health[index].bad_until)
