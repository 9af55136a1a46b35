# GENERATED from tests/async_/test_client.py by scripts/unasync.py -- do not edit.
"""Client life cycle and bad input: dial timeout, closed client, oversized values, empty keys."""

from __future__ import annotations

import time

import pytest

from etcd_recipes import (
    Client,
    ClientClosedError,
    ConnectionFailedError,
    EmptyKeyError,
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
    RequestTooLargeError,
)
from etcd_recipes.testing import EtcdServer, FaultProxy


def test_unreachable_server_raises_connection_error_within_dial_timeout() -> None:
    client = Client(["127.0.0.1:1"], dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        client.connect()
    assert "127.0.0.1:1" in str(caught.value)
    with pytest.raises(EtcdError):
        client.get("/k", timeout=0.5)
    client.close()


def test_context_manager_connects_and_closes(etcd_endpoints: list[str]) -> None:
    with Client(etcd_endpoints) as client:
        assert not client.closed
        assert client.endpoints == etcd_endpoints
    assert client.closed
    with pytest.raises(ClientClosedError):
        client.get("/k")
    client.close()  # idempotent


def test_bad_input_raises_our_errors_and_writes_nothing(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    with pytest.raises(EmptyKeyError):
        c.put("", "x")
    with pytest.raises(EmptyKeyError):
        c.get("")
    with pytest.raises(InvalidArgumentError):
        c.put(etcd_key_prefix + "k", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        c.get(etcd_key_prefix, prefix=True, range_end="z")
    with pytest.raises(RequestTooLargeError):
        c.put(etcd_key_prefix + "big", b"x" * (2 * 1024 * 1024))
    with pytest.raises(RequestTooLargeError):
        c.put(etcd_key_prefix + "big", b"x" * (1024 * 1024 + 700 * 1024))
    assert (c.get(etcd_key_prefix, prefix=True)).kvs == ()
    with pytest.raises(InvalidArgumentError):
        Client(["127.0.0.1:2379"], dial_timeout=0)
    with pytest.raises(InvalidArgumentError):
        Client(["not a port:x"])


def test_per_call_timeout_is_kept(etcd_server: EtcdServer, etcd_key_prefix: str) -> None:
    with FaultProxy(etcd_server.host, etcd_server.client_port) as proxy:
        with Client([proxy.endpoint], timeout=5.0) as client:
            client.put(etcd_key_prefix + "k", "v")
            proxy.set_latency(0.5)
            started = time.monotonic()
            with pytest.raises(EtcdTimeoutError):
                client.get(etcd_key_prefix + "k", timeout=0.1)
            assert time.monotonic() - started < 0.3
            proxy.pass_through()
            assert (client.get(etcd_key_prefix + "k")).value == b"v"
