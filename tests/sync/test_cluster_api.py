# GENERATED from tests/async_/test_cluster_api.py by scripts/unasync.py -- do not edit.
"""Cluster membership on real etcd processes: add a learner, start it, promote it, move its
peer URL, move the leadership there and back, remove it; and the errors on the way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etcd_recipes import (
    Client,
    ClusterError,
    InvalidArgumentError,
    Member,
)
from etcd_recipes._sync import _backend as backend
from etcd_recipes.testing import EtcdServer
from etcd_recipes.testing._server import free_port


def _member_server(name: str, extra_args: tuple[str, ...] = (), **options: object) -> EtcdServer:
    """A cluster member with short raft timings and fsync off.

    ``--strict-reconfig-check=false``: etcd otherwise refuses to remove a voting member until
    the others have been connected to it for 5 s ("unhealthy cluster"), a wait tests skip.
    """
    return EtcdServer(
        name=name,
        heartbeat_ms=50,
        election_ms=250,
        fsync=False,
        extra_args=("--strict-reconfig-check=false", *extra_args),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def seed() -> Iterator[EtcdServer]:
    """A one-member cluster that the test grows and shrinks again."""
    with _member_server("seed") as server:
        yield server


def _wait_member(client: Client, member_id: int, timeout: float = 10.0) -> Member:
    """Wait (bounded) until the member has started and published its name."""
    deadline = backend.monotonic() + timeout
    while True:
        member = (client.cluster.member_list()).get(member_id)
        assert member is not None
        if member.started or backend.monotonic() > deadline:
            return member
        backend.sleep(0.05)


def _promote(client: Client, member_id: int, timeout: float = 10.0) -> None:
    """Promote once the learner has caught up (etcd refuses before: ClusterError)."""
    deadline = backend.monotonic() + timeout
    while True:
        try:
            client.cluster.member_promote(member_id)
            return
        except ClusterError:
            if backend.monotonic() > deadline:
                raise
            backend.sleep(0.05)


def test_membership_errors(seed: EtcdServer) -> None:
    with Client(seed.endpoints) as client:
        seed_id = (client.cluster.member_list()).members[0].id
        with pytest.raises(ClusterError):
            client.cluster.member_promote(seed_id)  # not a learner
        with pytest.raises(ClusterError):
            client.cluster.member_add(seed.peer_url, learner=True)  # URL taken
        with pytest.raises(ClusterError):
            client.cluster.member_update(0x1234, ["http://127.0.0.1:1"])  # no such member
        with pytest.raises(ClusterError):
            client.maintenance.move_leader(0x1234)  # not a member
        with pytest.raises(InvalidArgumentError):
            client.cluster.member_add("127.0.0.1:2380")  # no scheme
        with pytest.raises(InvalidArgumentError):
            client.cluster.member_remove(0)
        assert len(client.cluster.member_list()) == 1


def test_learner_add_promote_update_move_leader_remove(seed: EtcdServer) -> None:
    with Client(seed.endpoints) as client:
        before = client.cluster.member_list()
        assert [m.name for m in before] == ["seed"]
        seed_id = before.members[0].id
        assert before.members[0].peer_urls == (seed.peer_url,)
        assert before.members[0].client_urls == (seed.client_url,)

        # The joiner listens for peers on two ports: added with the first, moved to the second.
        first_port, second_port = free_port(), free_port()
        first_url = f"http://127.0.0.1:{first_port}"
        second_url = f"http://127.0.0.1:{second_port}"
        added = client.cluster.member_add(first_url, learner=True)
        new_id = added.member.id
        assert added.member.is_learner and not added.member.started
        assert added.member.peer_urls == (first_url,)
        assert {m.id for m in added.members} == {seed_id, new_id}

        joiner = _member_server(
            "joiner",
            peer_port=first_port,
            initial_cluster=added.initial_cluster("joiner"),
            extra_args=(
                "--initial-cluster-state=existing",
                f"--listen-peer-urls={first_url},{second_url}",
            ),
        )
        try:
            joiner.start(wait=False)
            member = _wait_member(client, new_id)
            assert member.name == "joiner" and member.is_learner
            assert member.client_urls == (joiner.client_url,)

            _promote(client, new_id)
            promoted = (client.cluster.member_list()).get(new_id)
            assert promoted is not None and not promoted.is_learner

            updated = client.cluster.member_update(new_id, [second_url])
            member = updated.get(new_id)
            assert member is not None and member.peer_urls == (second_url,)
            assert not member.is_learner
            client.put("/cluster/quorum", "2 of 2")  # the seed reaches it at the new URL

            # Leadership to the new member (the client's own member is the leader) ...
            client.maintenance.move_leader(new_id)
            status = client.maintenance.status(endpoint=joiner.endpoint)
            assert status.is_leader and status.leader == new_id
            # ... and back (now the request must go to the joiner, found in the member list).
            client.maintenance.move_leader(seed_id)
            assert (client.maintenance.status()).is_leader

            remaining = client.cluster.member_remove(new_id)
            assert [m.id for m in remaining] == [seed_id]
            with pytest.raises(ClusterError):
                client.cluster.member_remove(new_id)
        finally:
            joiner.stop()
        assert [m.name for m in client.cluster.member_list()] == ["seed"]
        client.put("/cluster/after", "ok")
