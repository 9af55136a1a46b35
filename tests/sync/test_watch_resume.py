# GENERATED from tests/async_/test_watch_resume.py by scripts/unasync.py -- do not edit.
"""Watches that lose nothing: resume on another member from the last delivered revision + 1,
CompactedError when that revision is gone, progress on quiet watches, bounded slow consumers
(issue #3, fault test 2 and "Watches that lose nothing").

Cluster tests print their random seed; rerun one with ``ETCD_FAULT_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest

from etcd_recipes import (
    Client,
    CompactedError,
    EtcdError,
    EventType,
    Watcher,
)
from etcd_recipes._sync import _backend as backend
from etcd_recipes.testing import EtcdCluster

from .helpers import read_past_overflow
from .test_watch import Collector

Op = tuple[str, str, str]  # (PUT | DELETE, key, value)


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A random seed, recorded in the report (``user_properties``) and printed."""
    value = int(os.environ.get("ETCD_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    request.node.user_properties.append(("seed", value))
    print(f"seed {value} (rerun with ETCD_FAULT_SEED={value})")
    return value


def collect_until(watcher: Watcher, last_key: str) -> list[tuple[int, Op]]:
    """Events until (and with) the first one on ``last_key``: (revision, op) pairs."""
    seen: list[tuple[int, Op]] = []
    while not seen or seen[-1][1][1] != last_key:
        for event in watcher.events(timeout=10.0):
            op = (event.type.name, event.key.decode(), event.value.decode())
            seen.append((event.revision, op))
    return seen


def collect_from(collector: Collector, last_key: str) -> list[tuple[int, Op]]:
    """``collect_until`` for a watcher iterated by ``collector``."""
    seen: list[tuple[int, Op]] = []
    while not seen or seen[-1][1][1] != last_key:
        event = collector.events.get(10.0)
        seen.append((event.revision, (event.type.name, event.key.decode(), event.value.decode())))
    return seen


@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_prefix_watch_across_kill_and_restart(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int
) -> None:
    """Fault test 2: the events equal exactly the writes (no loss, no duplicate, in order),
    checked against the writer's own log and a final read."""
    watch_across_kill_and_restart(etcd_cluster, etcd_key_prefix, seed, iterate=False)


def watch_across_kill_and_restart(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int, *, iterate: bool
) -> None:
    """Fault test 2's body. ``iterate``: the watcher is iterated by a background consumer."""
    rng = random.Random(seed)
    endpoints = etcd_cluster.endpoints
    rng.shuffle(endpoints)
    keys = [f"{etcd_key_prefix}k{j}" for j in range(6)]
    acked: dict[int, Op] = {}  # revision -> op, for every acknowledged write
    maybe: list[Op] = []  # writes whose outcome is unknown
    plan = dict(zip(sorted(rng.sample(range(15, 110), 4)), ["kill", "restart"] * 2, strict=True))
    try:
        with Client(endpoints, timeout=1.0) as client:
            watcher = client.watch(etcd_key_prefix, prefix=True).start()
            collector = Collector(watcher) if iterate else None
            victim = -1
            for i in range(130):
                action = plan.get(i)
                if action == "kill":  # the member the client and its watch use
                    victim = etcd_cluster.endpoints.index(client.endpoint)
                    etcd_cluster.kill(victim)
                elif action == "restart":
                    etcd_cluster.restart(victim)
                key = rng.choice(keys)
                op: Op = ("PUT", key, f"{i}:{rng.getrandbits(24)}")
                if rng.random() < 0.25:
                    op = ("DELETE", key, "")
                try:
                    if op[0] == "DELETE":
                        deleted = client.delete(key)
                        if deleted.deleted:
                            acked[deleted.header.revision] = op
                    else:
                        acked[(client.put(key, op[2])).header.revision] = op
                except EtcdError as error:
                    if error.outcome_unknown:
                        maybe.append(op)
            end = f"{etcd_key_prefix}end"
            put = client.put(end, "done", timeout=5.0)
            acked[put.header.revision] = ("PUT", end, "done")
            if collector is not None:
                seen = collect_from(collector, end)
            else:
                seen = collect_until(watcher, end)
            watcher.cancel()
            if collector is not None:
                assert collector.outcome.wait() == "ended"
            final = client.get(etcd_key_prefix, prefix=True, timeout=5.0)
            streams = client._watch_hub.streams_opened
    finally:
        etcd_cluster.heal()
    revisions = [revision for revision, _ in seen]
    print(f"{len(seen)} events, {len(acked)} acknowledged writes, {len(maybe)} unknown, ", end="")
    print(f"{streams} watch streams")
    assert streams >= 2, "the watch never had to resume"
    assert revisions == sorted(set(revisions)), "events duplicated or out of order"
    by_revision = dict(seen)
    for revision, op in acked.items():
        assert by_revision.get(revision) == op, f"acknowledged write lost at {revision}: {op}"
    for revision, op in seen:
        assert revision in acked or op in maybe, f"event {revision} {op} was never written"
    state: dict[str, str] = {}
    for _, (kind, key, value) in seen:
        if kind == "PUT":
            state[key] = value
        else:
            state.pop(key, None)
    assert state == {kv.key.decode(): kv.value.decode() for kv in final.kvs}


@pytest.mark.cluster
@pytest.mark.timeout(30)
def test_resume_from_a_compacted_revision_raises(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str
) -> None:
    """The watch's member dies while its resume revision is compacted: CompactedError."""
    # The client uses a follower, so that stopping it leaves the leader serving the others.
    follower = etcd_cluster.followers()[0].endpoint
    endpoints = [follower] + [e for e in etcd_cluster.endpoints if e != follower]
    with Client(endpoints) as client:
        member = etcd_cluster.endpoints.index(client.endpoint)
        others = [e for i, e in enumerate(etcd_cluster.endpoints) if i != member]
        try:
            with client.watch(etcd_key_prefix, prefix=True) as watcher:
                client.put(f"{etcd_key_prefix}a", "1")
                assert [e.key for e in watcher.events(timeout=5.0)]
                etcd_cluster.pause(member)  # the watch stream hangs, unanswered
                with Client(others) as other:
                    other.put(f"{etcd_key_prefix}b", "2")
                    latest = (other.put(f"{etcd_key_prefix}c", "3")).header.revision
                    other.compact(latest, physical=True)
                etcd_cluster.kill(member)  # now the stream breaks; it resumes elsewhere
                with pytest.raises(CompactedError) as info:
                    watcher.read(timeout=10.0)
                assert info.value.compact_revision == latest
                assert watcher.compact_revision == latest
        finally:
            etcd_cluster.heal()


@pytest.mark.timeout(30)
def test_slow_consumer_is_told_and_loses_nothing(etcd_client: Client, etcd_key_prefix: str) -> None:
    """Past ``max_queue`` unread events the watch ends with WatchOverflowError after every batch
    received; watching again from its ``next_revision`` continues exactly where it stopped."""
    client = etcd_client
    watcher = client.watch(etcd_key_prefix, prefix=True, max_queue=10).start()
    for i in range(30):
        client.put(f"{etcd_key_prefix}{i:02d}", str(i))
    seen: list[bytes] = []
    assert 10 < read_past_overflow(client, watcher, etcd_key_prefix, seen, 30) < 30
    assert seen == [str(i).encode() for i in range(30)]


@pytest.mark.timeout(30)
def test_request_progress_moves_a_quiet_watch_forward(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    """A progress notification tells a quiet watch the current revision, so that it would
    resume from there (and not from a revision that may be compacted by then)."""
    client = etcd_client
    with client.watch(f"{etcd_key_prefix}quiet/", prefix=True) as watcher:
        created = watcher.next_revision
        revision = (client.put(f"{etcd_key_prefix}elsewhere", "x")).header.revision
        assert revision >= created
        watcher.request_progress()
        response = watcher.read(timeout=5.0)
        assert response.progress_notify and not response.events
        assert response.header.revision >= revision
        assert watcher.next_revision == response.header.revision + 1
        client.put(f"{etcd_key_prefix}quiet/k", "v")
        (event,) = watcher.events(timeout=5.0)
        assert event.type is EventType.PUT and event.revision >= watcher.next_revision - 1


# Last in the file: the tests above expect a cluster that has not just gone through kills.
@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_iterated_prefix_watch_across_kill_and_restart(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault test 2 with the watcher iterated by a background consumer that reads the stream
    itself while alone on it (forced on under asyncio too): the stream breaks under that
    consumer, which hands the failure to the hub; nothing is lost or repeated."""
    monkeypatch.setattr(backend, "CONSUMER_READS_WATCH_STREAM", True)
    watch_across_kill_and_restart(etcd_cluster, etcd_key_prefix, seed, iterate=True)
