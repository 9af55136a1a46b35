"""Client connection state (CONNECTED / SUSPENDED / LOST with listeners) and endpoint auto-sync
(issue #3, "Failover and retries").

Cluster tests print their random seed; rerun one with ``ETCD_FAULT_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest

from etcd_recipes import AsyncClient, ConnectionState, EtcdError
from etcd_recipes._async import _backend as backend
from etcd_recipes.testing import EtcdCluster, EtcdServer


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A random seed, recorded in the report (``user_properties``) and printed."""
    value = int(os.environ.get("ETCD_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    request.node.user_properties.append(("seed", value))
    print(f"seed {value} (rerun with ETCD_FAULT_SEED={value})")
    return value


@pytest.mark.timeout(30)
async def test_state_from_creation_to_close(etcd_endpoints: list[str]) -> None:
    client = AsyncClient(etcd_endpoints)
    assert client.state is ConnectionState.LOST  # not connected yet
    states: list[ConnectionState] = []
    client.add_state_listener(states.append)
    await client.connect()
    assert client.state is ConnectionState.CONNECTED
    assert client.endpoint in client.endpoints
    await client.close()
    assert client.state is ConnectionState.LOST
    assert states == [ConnectionState.CONNECTED, ConnectionState.LOST]
    client.remove_state_listener(states.append)


@pytest.mark.timeout(30)
async def test_sync_endpoints_reads_the_member_list(
    etcd_server: EtcdServer, etcd_async_client: AsyncClient
) -> None:
    assert await etcd_async_client.sync_endpoints() == [etcd_server.endpoint]
    assert etcd_async_client.endpoints == [etcd_server.endpoint]


@pytest.mark.cluster
@pytest.mark.timeout(30)
async def test_suspended_then_connected_again_without_any_call(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """All members stopped: a failing call makes the client SUSPENDED; once they are back the
    client's own probe brings it back to CONNECTED."""
    rng = random.Random(seed)
    endpoints = etcd_cluster.endpoints
    rng.shuffle(endpoints)
    async with AsyncClient(endpoints) as client:
        states: list[ConnectionState] = []
        client.add_state_listener(states.append)
        try:
            for member in range(3):
                etcd_cluster.pause(member)
            with pytest.raises(EtcdError):
                await client.get(etcd_key_prefix, timeout=0.3)
            assert client.state is ConnectionState.SUSPENDED
        finally:
            for member in range(3):
                etcd_cluster.resume(member)
        resumed = backend.monotonic()
        while client.state is not ConnectionState.CONNECTED:
            assert backend.monotonic() - resumed < 5.0, "the client stayed suspended"
            await backend.sleep(0.02)
        print(f"CONNECTED again {backend.monotonic() - resumed:.2f}s after the members resumed")
        assert states == [ConnectionState.SUSPENDED, ConnectionState.CONNECTED]
    etcd_cluster.wait_ready()


@pytest.mark.cluster
@pytest.mark.timeout(30)
async def test_auto_sync_learns_the_members_and_fails_over_to_them(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Given one endpoint, the client learns the others from MemberList and uses them when
    that one dies."""
    rng = random.Random(seed)
    given = rng.randrange(3)
    try:
        async with AsyncClient(
            [etcd_cluster[given].endpoint], auto_sync_interval=0.1, timeout=2.0
        ) as client:
            began = backend.monotonic()
            while len(client.endpoints) < 3:
                assert backend.monotonic() - began < 5.0, "auto-sync never ran"
                await backend.sleep(0.02)
            assert sorted(client.endpoints) == sorted(etcd_cluster.endpoints)
            assert client.endpoint == etcd_cluster[given].endpoint  # kept while healthy
            etcd_cluster.kill(given)
            for _ in range(3):  # a put racing the kill may fail with its outcome unknown
                try:
                    await client.put(f"{etcd_key_prefix}k", "v")
                    break
                except EtcdError as error:
                    assert error.outcome_unknown, error
            else:
                raise AssertionError("no put succeeded after the kill")
            assert client.endpoint != etcd_cluster[given].endpoint
    finally:
        etcd_cluster.heal()
