"""Endpoint parsing, channel options and the failover choice (pure, no etcd)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from etcd_recipes import ConnectionState, InvalidArgumentError
from etcd_recipes._core.endpoints import (
    PENALTY_BASE,
    PENALTY_MAX,
    Endpoint,
    EndpointHealth,
    channel_options,
    grpc_target,
    member_endpoints,
    next_index,
    parse_endpoint,
    parse_endpoints,
)
from etcd_recipes._core.state import StateListeners


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:2379", Endpoint("127.0.0.1", 2379, None)),
        ("http://10.0.0.1:1", Endpoint("10.0.0.1", 1, False)),
        ("https://etcd.example:2379/", Endpoint("etcd.example", 2379, True)),
        ("[::1]:23", Endpoint("::1", 23, None)),
        ("etcd", Endpoint("etcd", 2379, None)),
    ],
)
def test_parse_endpoint(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "host:notaport", "host:0", "host:70000"])
def test_parse_endpoint_rejects(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_endpoint(text)


def test_parse_endpoints_keeps_order_and_drops_duplicates() -> None:
    parsed = parse_endpoints("a:1,b:2,http://a:1")
    assert [str(e) for e in parsed] == ["a:1", "b:2"]
    with pytest.raises(InvalidArgumentError):
        parse_endpoints([])


def test_grpc_target_per_endpoint() -> None:
    assert grpc_target(parse_endpoint("127.0.0.1:1")) == "ipv4:127.0.0.1:1"
    assert grpc_target(parse_endpoint("[::1]:1")) == "ipv6:[::1]:1"
    assert grpc_target(parse_endpoint("etcd.local:1")) == "etcd.local:1"


def test_channel_options_make_keepalive_effective() -> None:
    options = dict(channel_options(keepalive_time=6.0, keepalive_timeout=2.0))
    assert options["grpc.keepalive_time_ms"] == 6000
    assert options["grpc.keepalive_timeout_ms"] == 2000
    # grpcio only gives up on an unanswered ping with this one.
    assert options["grpc.http2.ping_timeout_ms"] == 2000
    assert options["grpc.keepalive_permit_without_calls"] == 0
    assert options["grpc.http2.max_pings_without_data"] == 0
    assert "grpc.keepalive_time_ms" not in dict(
        channel_options(keepalive_time=None, keepalive_timeout=1.0)
    )


def test_member_endpoints_skips_learners_and_unstarted_members() -> None:
    members = [
        SimpleNamespace(name="m0", isLearner=False, clientURLs=["http://127.0.0.1:1"]),
        SimpleNamespace(name="", isLearner=False, clientURLs=[]),
        SimpleNamespace(name="m2", isLearner=True, clientURLs=["http://127.0.0.1:3"]),
        SimpleNamespace(name="m3", isLearner=False, clientURLs=["http://127.0.0.1:4", "http://127.0.0.1:1"]),
    ]  # fmt: skip
    assert member_endpoints(members) == ["http://127.0.0.1:1", "http://127.0.0.1:4"]


def test_penalty_doubles_while_failing_and_restarts_after_a_success() -> None:
    health = EndpointHealth()
    assert not health.penalised(0.0)
    assert health.fail(10.0) == PENALTY_BASE
    assert health.penalised(10.0) and not health.penalised(10.0 + PENALTY_BASE)
    assert health.fail(12.0) == 2 * PENALTY_BASE
    for t in range(13, 30):
        penalty = health.fail(float(t))
    assert penalty == PENALTY_MAX
    health.last_ok = 40.0  # a success after the last failure
    assert health.fail(41.0) == PENALTY_BASE
    for t in range(5000):  # a member failing for a long time: no overflow
        penalty = health.fail(42.0 + t)
    assert penalty == PENALTY_MAX


def test_next_index_prefers_the_next_healthy_endpoint() -> None:
    health = [EndpointHealth() for _ in range(3)]
    assert next_index(health, 0, 0.0) == 1
    assert next_index(health, 2, 0.0) == 0
    health[1].fail(0.0)
    assert next_index(health, 0, 0.5) == 2
    # Every other endpoint is penalised: the one whose penalty ends first.
    health[2].fail(0.2)
    health[2].fail(0.3)
    assert next_index(health, 0, 0.5) == 1
    assert next_index([EndpointHealth()], 0, 0.0) == 0


def test_state_listeners_survive_a_failing_listener() -> None:
    seen: list[ConnectionState] = []

    def broken(state: ConnectionState) -> None:
        raise RuntimeError("listener bug")

    listeners = StateListeners("test")
    listeners.add(broken)
    listeners.add(seen.append)
    listeners.add(seen.append)  # once only
    listeners.notify(ConnectionState.SUSPENDED)
    assert seen == [ConnectionState.SUSPENDED]
    listeners.remove(seen.append)
    listeners.remove(seen.append)  # no error
    listeners.notify(ConnectionState.CONNECTED)
    assert seen == [ConnectionState.SUSPENDED] and len(listeners) == 1
    with pytest.raises(TypeError):
        listeners.add("not callable")  # type: ignore[arg-type]
