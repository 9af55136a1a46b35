# GENERATED from tests/async_/test_lease_failover.py by scripts/unasync.py -- do not edit.
"""Leases that survive failover, and are reported lost only when they are (issue #3, fault
test 4 and "Leases that survive failover").

Cluster tests print their random seed; rerun one with ``ETCD_FAULT_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest

from etcd_recipes import Client, ConnectionState, Lease
from etcd_recipes._sync import _backend as backend
from etcd_recipes.testing import EtcdCluster


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A random seed, recorded in the report (``user_properties``) and printed."""
    value = int(os.environ.get("ETCD_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    request.node.user_properties.append(("seed", value))
    print(f"seed {value} (rerun with ETCD_FAULT_SEED={value})")
    return value


@pytest.mark.cluster
@pytest.mark.timeout(30)
def test_keep_alive_survives_the_kill_of_its_member(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Fault test 4a: the keep-alive moves to another member; the lease and its key stay."""
    rng = random.Random(seed)
    endpoints = etcd_cluster.endpoints
    rng.shuffle(endpoints)
    states: list[ConnectionState] = []
    key = f"{etcd_key_prefix}owned"
    try:
        with Client(endpoints) as client:
            lease = client.lease.grant(2)
            lease.add_state_listener(states.append)
            lease.keep_alive()
            client.put(key, "1", lease=lease)
            backend.sleep(rng.uniform(0.0, lease.ttl / 3))  # any phase of the refresh
            etcd_cluster.kill(etcd_cluster.endpoints.index(client.endpoint))
            backend.sleep(lease.ttl + 1.5)  # well past the TTL
            print(f"lease states {[s.name for s in states]}")
            assert not lease.lost and lease.is_kept_alive
            assert lease.state is ConnectionState.CONNECTED
            assert client.lease._keeper.streams_opened >= 2
            assert (client.get(key)).value == b"1"
            assert (lease.time_to_live()).ttl > 0
            lease.revoke()
    finally:
        etcd_cluster.heal()


@pytest.mark.cluster
@pytest.mark.timeout(30)
def test_a_stopped_keep_alive_expires_within_ttl_plus_one_second(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str
) -> None:
    """Fault test 4b: stop refreshing; etcd expires the lease and deletes its key in time."""
    key = f"{etcd_key_prefix}owned"
    with Client(etcd_cluster.endpoints) as client:
        lease = client.lease.grant(2)
        lease.keep_alive()
        client.put(key, "1", lease=lease)
        backend.sleep(0.3)
        lease.stop_keep_alive()
        stopped = backend.monotonic()
        while (client.get(key)).kvs:
            assert backend.monotonic() - stopped <= lease.ttl + 1.0, "the lease outlived ttl + 1s"
            backend.sleep(0.05)
        print(f"key gone {backend.monotonic() - stopped:.2f}s after the keep-alive stopped")
        assert (lease.time_to_live()).expired
        assert not lease.lost  # nothing refreshed it, so nothing judged it: no false alarm


@pytest.mark.cluster
@pytest.mark.timeout(30)
def test_a_lease_is_lost_when_its_ttl_passes_without_a_refresh(
    etcd_cluster: EtcdCluster,
) -> None:
    """Every member is stopped: the lease goes SUSPENDED, then LOST once ``ttl`` has passed
    since the last acknowledged refresh was sent (monotonic clock), with callback and time."""
    with Client(etcd_cluster.endpoints) as client:
        lease = client.lease.grant(2)
        states: list[ConnectionState] = []
        lost: list[Lease] = []
        lease.add_state_listener(states.append)
        lease.keep_alive(on_lost=lost.append)
        backend.sleep(0.2)
        try:
            for member in range(3):
                etcd_cluster.pause(member)
            assert lease.wait_lost(timeout=lease.ttl + 1.5)
            assert lease.lost and lease.lost_at is not None and lost == [lease]
            assert 0.0 <= lease.lost_at - lease.expires_at < 0.2
            assert "TTL passed" in lease.lost_reason
            assert states == [ConnectionState.SUSPENDED, ConnectionState.LOST]
            assert lease.state is ConnectionState.LOST and not lease.is_kept_alive
        finally:
            for member in range(3):
                etcd_cluster.resume(member)
    etcd_cluster.wait_ready()


@pytest.mark.timeout(30)
def test_a_lease_is_lost_when_etcd_says_it_is_gone(
    etcd_client: Client,
) -> None:
    """Revoked behind the keep-alive's back: the next refresh learns it, the lease is lost."""
    client = etcd_client
    lease = client.lease.grant(2)
    lease.keep_alive()
    client.lease.revoke(lease.id)  # by id: the keep-alive does not know
    assert lease.wait_lost(timeout=3.0)
    assert lease.state is ConnectionState.LOST
    assert "etcd reports" in lease.lost_reason
