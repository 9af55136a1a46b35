# GENERATED from tests/async_/test_election_faults.py by scripts/unasync.py -- do not edit.
"""Leader election under member faults on a 3-member cluster: whatever members die or hang, at
most one process acts as leader, judged by the term tokens of the writes it fences with
``is_leader()``; callbacks run exactly once per transition."""

from __future__ import annotations

import time

import pytest

from etcd_recipes import Client
from etcd_recipes.testing import EtcdCluster

from .test_election import Workers, _wait_candidates, check_fenced, check_transitions, history

pytestmark = pytest.mark.cluster


def _hold_fault(workers: Workers, seconds: float) -> None:
    """Let a fault last ``seconds`` (collecting the workers' events meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            workers.wait_for(timeout=deadline - time.monotonic(), ev="never")
        except AssertionError:
            pass


def test_member_faults_leave_at_most_one_acting_leader(
    etcd_cluster: EtcdCluster, etcd_key_prefix: str
) -> None:
    cluster, ttl = etcd_cluster, 1
    workers = Workers(cluster.endpoints, etcd_key_prefix + "e", etcd_key_prefix)
    client = Client(cluster.endpoints)
    try:
        for i, endpoint in enumerate(cluster.endpoints):  # worker m<i> talks to member i only
            workers.spawn(f"m{i}", "candidate", ttl=ttl, write=True, endpoints=[endpoint])
        first = workers.wait_for(ev="elected", timeout=15)
        workers.wait_for(ev="wrote", id=first["id"])
        _wait_candidates(client, workers.base["name"], 3)

        # 1. Kill the member the leader talks to: it cannot refresh its session any more.
        cluster.kill(int(first["id"][1:]))
        second = workers.wait_for(ev="elected", term=lambda t: t > first["term"], timeout=ttl + 5)
        lost = workers.wait_for(ev="lost", id=first["id"], timeout=ttl + 5)
        assert (lost["term"], lost["reason"]) == (first["term"], "session lost")
        workers.wait_for(ev="wrote", id=second["id"], term=second["term"])
        cluster.heal()

        # 2. Pause the member the new leader talks to for longer than the TTL.
        cluster.pause(int(second["id"][1:]))
        try:
            third = workers.wait_for(
                ev="elected", term=lambda t: t > second["term"], timeout=ttl + 5
            )
            _hold_fault(workers, 0.5)
        finally:
            cluster.heal()
        workers.wait_for(ev="lost", id=second["id"], term=second["term"], timeout=5)

        # 3. Kill the raft leader (whoever talks to it), then bring it back.
        cluster.leader().kill()
        _hold_fault(workers, ttl + 0.5)
        cluster.heal()

        for ident in workers.procs:
            client.put(workers.base["ctl"] + ident, "exit")
        for ident in workers.procs:
            workers.wait_for(ev="exit", id=ident, timeout=15)
        workers.drain()
        by_term = check_transitions(workers)
        assert [e["term"] for e in by_term[:3]] == [first["term"], second["term"], third["term"]]
        check_fenced(history(client, workers.data))
    finally:
        workers.close()
        cluster.heal()
        client.close()
