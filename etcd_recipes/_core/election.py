"""Leader election, the pure part: key naming, who leads, and the observer's bookkeeping.

Keys are Go's (``concurrency.NewElection``): candidates live under ``<name>/`` and each one's
key is ``<name>/<lease id in lower-case hex>``; the leader is the key with the lowest create
revision, and that create revision is its term (the fencing token).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .._exceptions import RecipeError
from .keys import KeyLike, to_bytes
from .types import Event, EventType, KeyValue


class NotLeaderError(RecipeError):
    """``proclaim``/``is_leader`` was used while not leading (or the leader key is gone)."""


class ElectionSessionLostError(RecipeError):
    """The session died while campaigning (or a session given to the election is lost)."""


class CampaignAbortedError(RecipeError):
    """``campaign`` was ended by ``resign()``, ``stop()`` or ``close()`` before it won."""


def election_prefix(name: KeyLike) -> bytes:
    """Where the candidates of election ``name`` keep their keys: ``name + "/"`` (as Go)."""
    return to_bytes(name, "election name") + b"/"


def candidate_key(name: KeyLike, lease_id: int) -> bytes:
    """The key of the candidate on lease ``lease_id`` (Go's ``fmt.Sprintf("%s%x", pfx, lease)``)."""
    return election_prefix(name) + f"{lease_id:x}".encode()


class LossReason(enum.Enum):
    """Why a leader stopped leading (given to ``on_lost``)."""

    RESIGNED = "resigned"
    """``resign()``, ``stop()`` or ``close()`` deleted our key."""
    SESSION_LOST = "session lost"
    """The session's lease expired or could not be refreshed within its TTL."""
    KEY_DELETED = "key deleted"
    """Someone else deleted our key (an operator, ``etcdctl del``, a lease revoke)."""
    CLOSED = "client closed"
    """The client was closed while we led."""


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """A leader: its ``key``, proclaimed ``value``, ``term`` (the key's create revision: the
    fencing token, larger for every new leader), the ``lease`` its key is bound to, and the
    ``mod_revision`` of the value's last change."""

    key: bytes
    value: bytes
    term: int
    lease: int
    mod_revision: int

    @classmethod
    def from_kv(cls, kv: KeyValue) -> LeaderInfo:
        """The leader described by its key-value."""
        return cls(kv.key, kv.value, kv.create_revision, kv.lease, kv.mod_revision)

    def same_as(self, other: LeaderInfo | None) -> bool:
        """True if ``other`` is the same leader with the same value (ignores ``mod_revision``)."""
        return (
            other is not None
            and self.key == other.key
            and self.term == other.term
            and self.value == other.value
        )


def first_created(kvs: Iterable[KeyValue]) -> KeyValue | None:
    """The key with the lowest create revision (the leader), or None."""
    return min(kvs, key=lambda kv: kv.create_revision, default=None)


class LeaderTracker:
    """Follows every candidate key under an election prefix from a Get and then watch events,
    and tells each change of leader (or of its value, or "no leader") once, in order."""

    def __init__(self, kvs: Iterable[KeyValue], revision: int) -> None:
        self._kvs: dict[bytes, KeyValue] = {}
        self.leader: LeaderInfo | None = None
        self.revision = revision
        self.reset(kvs, revision)

    def reset(self, kvs: Iterable[KeyValue], revision: int) -> list[tuple[int, LeaderInfo | None]]:
        """Start again from a fresh Get at ``revision``; returns the change, if any."""
        self._kvs = {kv.key: kv for kv in kvs}
        self.revision = revision
        return self._settle(revision)

    def apply(self, events: Iterable[Event]) -> list[tuple[int, LeaderInfo | None]]:
        """Apply watch events; returns ``(revision, leader)`` for each change, oldest first.

        Events of one revision (one transaction) are applied together before the leader is
        judged, so a transaction that replaces a key never shows a transient state.
        """
        changes: list[tuple[int, LeaderInfo | None]] = []
        pending = 0
        for event in events:
            revision = event.kv.mod_revision
            if pending and revision != pending:
                changes += self._settle(pending)
            pending = revision
            if event.type is EventType.PUT:
                self._kvs[event.kv.key] = event.kv
            else:
                self._kvs.pop(event.kv.key, None)
        if pending:
            changes += self._settle(pending)
        return changes

    def _settle(self, revision: int) -> list[tuple[int, LeaderInfo | None]]:
        self.revision = max(self.revision, revision)
        kv = first_created(self._kvs.values())
        leader = LeaderInfo.from_kv(kv) if kv is not None else None
        if leader is None and self.leader is None:
            return []
        if leader is not None and leader.same_as(self.leader):
            return []
        self.leader = leader
        return [(revision, leader)]
