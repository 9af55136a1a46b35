"""Fault tests on a real 3-member cluster: calls fail over when members die, pause, are
blackholed, or lose quorum (issue #3, fault tests 1, 3, 5 and 6).

Each test prints its random seed; rerun one with ``ETCD_FAULT_SEED=<seed>``. Writes whose fate
is unknown (``outcome_unknown``) are allowed to be either applied or not; every acknowledged
write must be readable afterwards, and nothing else may be there.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from etcd_recipes import (
    AsyncClient,
    ConnectionState,
    EtcdConnectionError,
    EtcdError,
    EtcdTimeoutError,
    NoLeaderError,
)
from etcd_recipes._async import _backend as backend
from etcd_recipes.testing import EtcdCluster, EtcdServer, FaultProxy

pytestmark = pytest.mark.cluster


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A random seed, recorded in the report (``user_properties``) and printed."""
    value = int(os.environ.get("ETCD_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    request.node.user_properties.append(("seed", value))
    print(f"seed {value} (rerun with ETCD_FAULT_SEED={value})")
    return value


async def stored(client: AsyncClient, prefix: str) -> dict[str, str]:
    response = await client.get(prefix, prefix=True, timeout=5)
    return {kv.key.decode(): kv.value.decode() for kv in response.kvs}


def check_writes(found: dict[str, str], acked: dict[str, str], maybe: dict[str, str]) -> None:
    for key, value in acked.items():
        assert found.get(key) == value, f"acknowledged put {key}={value} lost: {found.get(key)}"
    for key, value in found.items():
        assert acked.get(key) == value or maybe.get(key) == value, f"unexpected {key}={value}"


async def wait_no_leader(member: EtcdServer, timeout: float) -> None:
    """Until ``member`` reports no leader (etcd leaves the field out of its JSON when it is 0)."""
    deadline = backend.monotonic() + timeout
    while int(member.status(timeout=0.5).get("leader") or 0) != 0:
        assert backend.monotonic() < deadline, f"{member.name} still has a leader"
        await backend.sleep(0.02)


@pytest.mark.timeout(30)
async def test_kill_the_clients_member_during_puts(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Fault test 1: every acknowledged put survives; the client carries on elsewhere."""
    rng = random.Random(seed)
    acked: dict[str, str] = {}
    maybe: dict[str, str] = {}
    endpoints = etcd_cluster.endpoints
    rng.shuffle(endpoints)
    try:
        async with AsyncClient(endpoints, timeout=1.0) as client:
            victim = etcd_cluster.endpoints.index(client.endpoint)
            kill_at = rng.randint(10, 40)
            killed_at: float | None = None
            recovered: float | None = None
            for i in range(kill_at + 40):
                if i == kill_at:
                    etcd_cluster.kill(victim)
                    killed_at = backend.monotonic()
                key, value = f"{etcd_key_prefix}{i:03d}", f"{i}:{rng.getrandbits(32)}"
                try:
                    await client.put(key, value)
                except EtcdError as error:
                    assert killed_at is not None, f"put failed before any fault: {error!r}"
                    if error.outcome_unknown:
                        maybe[key] = value
                    continue
                acked[key] = value
                if killed_at is not None and recovered is None:
                    recovered = backend.monotonic() - killed_at
            print(f"kill -> next acknowledged put: {recovered}s; outcome unknown: {len(maybe)}")
            assert recovered is not None and recovered < 2.5
            assert client.endpoint != etcd_cluster[victim].endpoint
            assert len(acked) >= kill_at + 35
            check_writes(await stored(client, etcd_key_prefix), acked, maybe)
    finally:
        etcd_cluster.heal()


@pytest.mark.timeout(30)
async def test_sigstop_the_leader_past_the_election_timeout(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Fault test 3: reads and writes go on once a new leader is elected; nothing is lost."""
    rng = random.Random(seed)
    leader = etcd_cluster.members.index(etcd_cluster.leader())
    on_leader = rng.random() < 0.5  # the client starts on the leader, or on a follower
    endpoints = sorted(
        etcd_cluster.endpoints, key=lambda e: (e != etcd_cluster[leader].endpoint) == on_leader
    )
    pause_for = rng.uniform(1.5, 2.0)
    times: dict[str, float] = {}

    async def fault() -> None:
        await backend.sleep(0.3)
        etcd_cluster.pause(leader)
        times["paused"] = backend.monotonic()
        await backend.sleep(pause_for)
        etcd_cluster.resume(leader)
        times["resumed"] = backend.monotonic()

    acked: dict[str, str] = {}
    maybe: dict[str, str] = {}
    during = reads = 0
    try:
        async with AsyncClient(endpoints, timeout=0.5) as client:
            task = backend.spawn(fault, name="fault")
            end = backend.monotonic() + 0.3 + pause_for + 1.0
            i = 0
            while backend.monotonic() < end:
                i += 1
                key, value = f"{etcd_key_prefix}{i:04d}", f"{i}:{rng.getrandbits(32)}"
                try:
                    await client.put(key, value)
                except EtcdError as error:
                    if error.outcome_unknown:
                        maybe[key] = value
                    continue
                acked[key] = value
                if "paused" in times and "resumed" not in times:
                    during += 1
                try:
                    assert (await client.get(key)).value == value.encode()
                    reads += 1
                except (EtcdConnectionError, EtcdTimeoutError):
                    pass
            await task.join(5.0)
            print(f"on leader: {on_leader}; acked {len(acked)} ({during} while stopped), ", end="")
            print(f"reads {reads}, outcome unknown {len(maybe)}")
            assert during > 0, "no write succeeded while the old leader was stopped"
            assert reads > 0
            check_writes(await stored(client, etcd_key_prefix), acked, maybe)
    finally:
        etcd_cluster.heal()


@pytest.mark.timeout(40)
async def test_blackholed_member_is_noticed_and_left(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Fault test 5: keepalive notices a blackholed member within keepalive_time +
    keepalive_timeout + 1 s; calls with deadlines never overrun them by more than 100 ms."""
    rng = random.Random(seed)
    proxies = [FaultProxy("127.0.0.1", member.client_port).start() for member in etcd_cluster]
    order = [0, 1, 2]
    rng.shuffle(order)
    keepalive_time, keepalive_timeout = 2.0, 1.0
    try:
        client = AsyncClient(
            [proxies[i].endpoint for i in order],
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
        )
        async with client:
            names = [proxy.endpoint for proxy in proxies]
            first = names.index(client.endpoint)
            async with client.watch(etcd_key_prefix, prefix=True) as watcher:
                # Only the watch stream is open: gRPC keepalive alone must notice.
                proxies[first].blackhole()
                start = backend.monotonic()
                limit = keepalive_time + keepalive_timeout + 1.0
                while client.endpoint == names[first]:
                    assert backend.monotonic() - start <= limit, "blackhole not noticed"
                    await backend.sleep(0.02)
                print(f"blackhole noticed by keepalive after {backend.monotonic() - start:.2f}s")
                await client.put(f"{etcd_key_prefix}after", "1", timeout=2.0)
                events = await watcher.events(timeout=3.0)
                assert [e.key.decode() for e in events] == [f"{etcd_key_prefix}after"]

            # Calls with deadlines while the member the client moved to is blackholed too.
            second = names.index(client.endpoint)
            proxies[second].blackhole()
            deadline = 0.4
            overrun = 0.0
            calls: list[Any] = []
            for _ in range(4):
                calls += [
                    lambda: client.get(f"{etcd_key_prefix}after", timeout=deadline),
                    lambda: client.put(f"{etcd_key_prefix}x", "1", timeout=deadline),
                ]
            outcomes = []
            for call in calls:
                began = backend.monotonic()
                try:
                    await call()
                    outcomes.append("ok")
                except (EtcdTimeoutError, EtcdConnectionError) as error:
                    outcomes.append(type(error).__name__)
                overrun = max(overrun, backend.monotonic() - began - deadline)
            print(f"outcomes {outcomes}; worst overrun {overrun * 1000:.0f} ms")
            assert overrun <= 0.1
            assert client.endpoint not in (names[first], names[second])
            assert outcomes[-2:] == ["ok", "ok"]
    finally:
        for proxy in proxies:
            proxy.stop()


@pytest.mark.timeout(40)
async def test_quorum_loss_fails_clearly_and_recovers(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Fault test 6: with 2 of 3 members stopped, calls fail with NoLeaderError by their
    deadline (at once once the client is LOST); the client recovers by itself afterwards."""
    rng = random.Random(seed)
    endpoints = etcd_cluster.endpoints
    rng.shuffle(endpoints)
    states: list[ConnectionState] = []
    async with AsyncClient(endpoints, retry_timeout=2.5) as client:
        client.add_state_listener(states.append)
        survivor = etcd_cluster.endpoints.index(client.endpoint)
        stopped = [i for i in range(3) if i != survivor]
        await client.put(f"{etcd_key_prefix}before", "1")
        try:
            for i in stopped:
                etcd_cluster.pause(i)
            await wait_no_leader(etcd_cluster[survivor], 5.0)
            deadline = 0.5
            for call in (
                lambda: client.get(f"{etcd_key_prefix}before", timeout=deadline),
                lambda: client.put(f"{etcd_key_prefix}lost", "x", timeout=deadline),
            ):
                began = backend.monotonic()
                with pytest.raises(NoLeaderError) as info:
                    await call()
                assert backend.monotonic() - began <= deadline + 0.1
                assert not info.value.outcome_unknown  # "no leader": certainly not applied
                assert client.state is ConnectionState.SUSPENDED
            # Nothing succeeds for retry_timeout: LOST, and calls fail at once.
            began = backend.monotonic()
            while client.state is not ConnectionState.LOST:
                assert backend.monotonic() - began < 5.0
                await backend.sleep(0.05)
            began = backend.monotonic()
            with pytest.raises(NoLeaderError, match="LOST"):
                await client.get(f"{etcd_key_prefix}before", timeout=5.0)
            assert backend.monotonic() - began < 0.05
        finally:
            for i in stopped:
                etcd_cluster.resume(i)
        began = backend.monotonic()
        while True:  # the same client recovers: no restart, no reconnect call
            try:
                await client.put(f"{etcd_key_prefix}after", "2", timeout=1.0)
                break
            except EtcdError:
                assert backend.monotonic() - began < 10.0, "the client did not recover"
                await backend.sleep(0.05)
        print(f"recovered {backend.monotonic() - began:.2f}s after the members came back")
        assert client.state is ConnectionState.CONNECTED
        assert states[:3] == [
            ConnectionState.SUSPENDED,
            ConnectionState.LOST,
            ConnectionState.CONNECTED,
        ]
        found = await stored(client, etcd_key_prefix)
        assert found == {f"{etcd_key_prefix}before": "1", f"{etcd_key_prefix}after": "2"}
    etcd_cluster.wait_ready()
