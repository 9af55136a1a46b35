"""Cluster membership (``client.cluster``): list, add (also as a learner), remove, update and
promote members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._core.admin import (
    MemberAddResponse,
    MemberListResponse,
    check_member_id,
    peer_url_list,
)
from .._pb import rpc_pb2
from ._connection import AsyncConnection


class AsyncClusterAPI:
    """etcd's Cluster service. Member ids are ints (``Member.id``); results are typed.

    Membership changes are writes: one whose outcome is unknown (timeout, connection lost)
    raises with ``outcome_unknown`` set and is not repeated -- look at ``member_list()``.
    Errors: ``ClusterError`` (member not found, peer URLs exist, learner not in sync ...).
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._conn.target}>"

    async def _call(
        self, method: Any, request: Any, timeout: float | None, mutating: bool, what: str
    ) -> Any:
        return await self._conn.unary(method, request, timeout, mutating, f"cluster.{what}")

    async def member_list(
        self, *, linearizable: bool = True, timeout: float | None = None
    ) -> MemberListResponse:
        """The members. ``linearizable`` (the default) asks the leader for the committed list
        (etcd >= 3.5; 3.4 always answers from the member's local view)."""
        request = rpc_pb2.MemberListRequest(linearizable=linearizable)
        response = await self._call(
            self._conn.cluster.MemberList, request, timeout, False, "member_list"
        )
        return MemberListResponse._from_pb(response)

    async def member_add(
        self,
        peer_urls: str | Sequence[str],
        *,
        learner: bool = False,
        timeout: float | None = None,
    ) -> MemberAddResponse:
        """Add a member that will listen for peers at ``peer_urls``; then start it with
        ``--initial-cluster-state=existing`` and ``response.initial_cluster(name)``.

        A voting member counts towards the quorum as soon as it is added, so a cluster whose
        new member does not start may lose its quorum. ``learner=True`` adds a non-voting
        member instead; ``member_promote`` makes it vote once it has caught up.
        """
        request = rpc_pb2.MemberAddRequest(peerURLs=peer_url_list(peer_urls), isLearner=learner)
        response = await self._call(
            self._conn.cluster.MemberAdd, request, timeout, True, "member_add"
        )
        return MemberAddResponse._from_pb(response)

    async def member_remove(
        self, member_id: int, *, timeout: float | None = None
    ) -> MemberListResponse:
        """Remove member ``member_id`` (its process stops by itself); the remaining members."""
        request = rpc_pb2.MemberRemoveRequest(ID=check_member_id(member_id))
        response = await self._call(
            self._conn.cluster.MemberRemove, request, timeout, True, "member_remove"
        )
        return MemberListResponse._from_pb(response)

    async def member_update(
        self, member_id: int, peer_urls: str | Sequence[str], *, timeout: float | None = None
    ) -> MemberListResponse:
        """Change the peer URLs of member ``member_id``; the members after the change."""
        request = rpc_pb2.MemberUpdateRequest(
            ID=check_member_id(member_id), peerURLs=peer_url_list(peer_urls)
        )
        response = await self._call(
            self._conn.cluster.MemberUpdate, request, timeout, True, "member_update"
        )
        return MemberListResponse._from_pb(response)

    async def member_promote(
        self, member_id: int, *, timeout: float | None = None
    ) -> MemberListResponse:
        """Make learner ``member_id`` a voting member. etcd refuses (ClusterError) until the
        learner has caught up with the leader's log; the members after the change."""
        request = rpc_pb2.MemberPromoteRequest(ID=check_member_id(member_id))
        response = await self._call(
            self._conn.cluster.MemberPromote, request, timeout, True, "member_promote"
        )
        return MemberListResponse._from_pb(response)
