"""The pure part of leader election: Go's key names, who leads, the observer's bookkeeping."""

from __future__ import annotations

from etcd_recipes import RecipeError
from etcd_recipes._core.election import (
    CampaignAbortedError,
    ElectionSessionLostError,
    LeaderInfo,
    LeaderTracker,
    NotLeaderError,
    candidate_key,
    election_prefix,
    first_created,
)
from etcd_recipes._core.types import Event, EventType, KeyValue


def kv(key: str, create: int, value: str = "v", mod: int = 0) -> KeyValue:
    return KeyValue(key.encode(), value.encode(), create, mod or create, 1, 7)


def put(key: str, create: int, mod: int, value: str = "v") -> Event:
    return Event(EventType.PUT, kv(key, create, value, mod), None)


def delete(key: str, mod: int) -> Event:
    return Event(EventType.DELETE, KeyValue(key.encode(), b"", 0, mod, 0, 0), None)


def test_keys_are_gos() -> None:
    # Go: fmt.Sprintf("%s%x", pfx+"/", leaseID)
    assert election_prefix("/svc/leader") == b"/svc/leader/"
    assert candidate_key("/svc/leader", 0x694D7A3B1C2D4E5F) == b"/svc/leader/694d7a3b1c2d4e5f"
    assert candidate_key(b"e", 255) == b"e/ff"


def test_leader_is_the_first_created() -> None:
    assert first_created([]) is None
    leader = first_created([kv("e/b", 9), kv("e/a", 4), kv("e/c", 12)])
    assert leader is not None and leader.key == b"e/a"
    info = LeaderInfo.from_kv(kv("e/a", 4, "x", 6))
    assert (info.key, info.value, info.term, info.lease, info.mod_revision) == (
        b"e/a",
        b"x",
        4,
        7,
        6,
    )


def test_tracker_reports_each_change_once_in_order() -> None:
    tracker = LeaderTracker([kv("e/a", 4), kv("e/b", 5)], revision=5)
    assert tracker.leader is not None and tracker.leader.key == b"e/a"
    assert tracker.apply([put("e/c", 6, 6)]) == []  # a new candidate is not a change
    assert tracker.apply([put("e/b", 5, 7, "b2")]) == []  # nor a candidate's new value
    [(rev, info)] = tracker.apply([put("e/a", 4, 8, "a2")])  # the leader's proclaim is
    assert rev == 8 and info is not None and (info.term, info.value) == (4, b"a2")
    changes = tracker.apply([delete("e/a", 9), delete("e/b", 10)])
    assert [(r, i.key if i else None) for r, i in changes] == [(9, b"e/b"), (10, b"e/c")]
    assert tracker.apply([delete("e/c", 11)]) == [(11, None)]  # "no leader" is reported
    assert tracker.apply([put("e/d", 12, 12)])[0][1] is not None
    assert tracker.revision == 12


def test_tracker_applies_one_transaction_at_once() -> None:
    tracker = LeaderTracker([kv("e/a", 4)], revision=4)
    # One txn (revision 5) deletes the leader and creates another key: one change, no gap.
    [(rev, info)] = tracker.apply([delete("e/a", 5), put("e/b", 5, 5)])
    assert rev == 5 and info is not None and info.key == b"e/b"


def test_tracker_reset_reports_only_a_difference() -> None:
    tracker = LeaderTracker([kv("e/a", 4)], revision=4)
    assert tracker.reset([kv("e/a", 4), kv("e/b", 6)], revision=9) == []
    [(rev, info)] = tracker.reset([kv("e/b", 6)], revision=12)
    assert rev == 12 and info is not None and info.key == b"e/b"


def test_errors_are_recipe_errors() -> None:
    for error in (NotLeaderError, ElectionSessionLostError, CampaignAbortedError):
        assert issubclass(error, RecipeError)
