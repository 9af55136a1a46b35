"""Client life cycle and bad input: dial timeout, closed client, oversized values, empty keys."""

from __future__ import annotations

import time

import pytest

from etcd_recipes import (
    AsyncClient,
    ClientClosedError,
    ConnectionFailedError,
    EmptyKeyError,
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
    RequestTooLargeError,
)
from etcd_recipes.testing import EtcdServer, FaultProxy


async def test_unreachable_server_raises_connection_error_within_dial_timeout() -> None:
    client = AsyncClient(["127.0.0.1:1"], dial_timeout=0.5)
    with pytest.raises(ConnectionFailedError) as caught:
        await client.connect()
    assert "127.0.0.1:1" in str(caught.value)
    with pytest.raises(EtcdError):
        await client.get("/k", timeout=0.5)
    await client.close()


async def test_context_manager_connects_and_closes(etcd_endpoints: list[str]) -> None:
    async with AsyncClient(etcd_endpoints) as client:
        assert not client.closed
        assert client.endpoints == etcd_endpoints
    assert client.closed
    with pytest.raises(ClientClosedError):
        await client.get("/k")
    await client.close()  # idempotent


async def test_bad_input_raises_our_errors_and_writes_nothing(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    with pytest.raises(EmptyKeyError):
        await c.put("", "x")
    with pytest.raises(EmptyKeyError):
        await c.get("")
    with pytest.raises(InvalidArgumentError):
        await c.put(etcd_key_prefix + "k", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        await c.get(etcd_key_prefix, prefix=True, range_end="z")
    with pytest.raises(RequestTooLargeError):
        await c.put(etcd_key_prefix + "big", b"x" * (2 * 1024 * 1024))
    with pytest.raises(RequestTooLargeError):
        await c.put(etcd_key_prefix + "big", b"x" * (1024 * 1024 + 700 * 1024))
    assert (await c.get(etcd_key_prefix, prefix=True)).kvs == ()
    with pytest.raises(InvalidArgumentError):
        AsyncClient(["127.0.0.1:2379"], dial_timeout=0)
    with pytest.raises(InvalidArgumentError):
        AsyncClient(["not a port:x"])


async def test_per_call_timeout_is_kept(etcd_server: EtcdServer, etcd_key_prefix: str) -> None:
    with FaultProxy(etcd_server.host, etcd_server.client_port) as proxy:
        async with AsyncClient([proxy.endpoint], timeout=5.0) as client:
            await client.put(etcd_key_prefix + "k", "v")
            proxy.set_latency(0.5)
            started = time.monotonic()
            with pytest.raises(EtcdTimeoutError):
                await client.get(etcd_key_prefix + "k", timeout=0.1)
            assert time.monotonic() - started < 0.3
            proxy.pass_through()
            assert (await client.get(etcd_key_prefix + "k")).value == b"v"
