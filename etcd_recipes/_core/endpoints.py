"""Endpoint parsing and the gRPC target / channel options built from them (pure code)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidArgumentError


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
    """Parse one endpoint or a list (a comma-separated string is accepted too)."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    if not items:
        raise InvalidArgumentError("at least one endpoint is needed")
    return [parse_endpoint(item) for item in items]


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def grpc_target(endpoints: Sequence[Endpoint]) -> str:
    """A gRPC target naming every endpoint, so the channel itself fails over between them.

    IP literals use the ``ipv4:``/``ipv6:`` schemes (several addresses in one target); a single
    host name uses DNS. Several host names use the first; the client rotates on failure.
    """
    versions = {_ip_version(e.host) for e in endpoints}
    if versions == {4}:
        return "ipv4:" + ",".join(str(e) for e in endpoints)
    if versions == {6}:
        return "ipv6:" + ",".join(str(e) for e in endpoints)
    return str(endpoints[0])


def channel_options(
    *,
    keepalive_time: float | None,
    keepalive_timeout: float,
    max_receive_bytes: int = 2**31 - 1,
    extra: Sequence[tuple[str, Any]] = (),
) -> list[tuple[str, Any]]:
    """gRPC channel options: unlimited receive size (etcd bounds it), keepalive pings."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_receive_bytes),
        ("grpc.max_send_message_length", -1),
        ("grpc.enable_retries", 0),
        ("grpc.initial_reconnect_backoff_ms", 50),
        ("grpc.min_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]
    if keepalive_time:
        options += [
            ("grpc.keepalive_time_ms", int(keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", int(keepalive_timeout * 1000)),
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.http2.max_pings_without_data", 0),
        ]
    options += list(extra)
    return options
