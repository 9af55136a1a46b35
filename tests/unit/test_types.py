"""KeyValue and the typed responses built from wire messages (pure, no etcd)."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle

import pytest

from etcd_recipes._core import types
from etcd_recipes._core.types import (
    DeleteResponse,
    GetResponse,
    KeyValue,
    KeyValues,
    PutResponse,
    ResponseHeader,
)
from etcd_recipes._pb import kv_pb2, rpc_pb2

FIELDS = (b"/k", b"v", 10, 20, 3, 7)
HDR = rpc_pb2.ResponseHeader(cluster_id=1, member_id=2, revision=20, raft_term=4)


def wire_kv(key: bytes = b"/k", value: bytes = b"v") -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=key, value=value, create_revision=10, mod_revision=20, version=3, lease=7
    )


def both() -> tuple[KeyValue, KeyValue]:
    """The same pair built by the constructor and from a wire message."""
    return KeyValue(*FIELDS), KeyValue._from_pb(wire_kv())


def test_attributes_equality_and_hash_match_between_constructor_and_wire() -> None:
    built, viewed = both()
    for kv in (built, viewed):
        assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) == (
            FIELDS
        )
    assert built == viewed
    assert (built != viewed) is False
    assert hash(built) == hash(viewed) == hash(FIELDS)  # as a frozen dataclass hashes
    assert len({built, viewed}) == 1
    assert built != KeyValue(b"/k", b"other", 10, 20, 3, 7)
    assert built != FIELDS and built.__eq__(FIELDS) is NotImplemented


def test_repr_is_unchanged() -> None:
    built, viewed = both()
    text = (
        "KeyValue(key=b'/k', value=b'v', create_revision=10, mod_revision=20, version=3, lease=7)"
    )
    assert repr(built) == repr(viewed) == text
    long = KeyValue(b"/k", b"x" * 100, 1, 1, 1, 0)
    assert "xxx...'" in repr(long) and len(repr(long)) < 160


def test_immutable() -> None:
    for kv in both():
        with pytest.raises(dataclasses.FrozenInstanceError):
            kv.value = b"changed"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            kv.anything = 1  # type: ignore[attr-defined]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del kv.key  # type: ignore[misc]
        with pytest.raises(TypeError):
            kv < kv  # type: ignore[operator]  # noqa: B015
        assert kv.value == b"v"


def test_pickle_and_copy_give_stand_alone_equal_objects() -> None:
    for kv in both():
        for other in (pickle.loads(pickle.dumps(kv)), copy.copy(kv), copy.deepcopy(kv)):
            assert other == kv and type(other) is KeyValue
            assert not isinstance(other._pb, kv_pb2.KeyValue)  # no wire message kept


def test_dataclass_helpers_still_work() -> None:
    built, viewed = both()
    assert dataclasses.is_dataclass(viewed)
    assert [f.name for f in dataclasses.fields(viewed)] == [
        "key", "value", "create_revision", "mod_revision", "version", "lease",
    ]  # fmt: skip
    assert dataclasses.replace(viewed, value=b"w") == KeyValue(b"/k", b"w", 10, 20, 3, 7)
    assert dataclasses.asdict(built)["mod_revision"] == 20
    assert dataclasses.astuple(viewed) == FIELDS
    match viewed:
        case KeyValue(key, value):
            assert (key, value) == (b"/k", b"v")


def test_a_large_range_is_a_sequence_read_as_it_is_reached() -> None:
    n = 1000
    pb = rpc_pb2.RangeResponse(header=HDR, count=n, kvs=[wire_kv(b"/k%05d" % i) for i in range(n)])
    response = GetResponse._from_pb(pb)
    kvs = response.kvs
    assert isinstance(kvs, KeyValues) and len(response) == len(kvs) == n and kvs
    assert response.count == n and not response.more
    assert response.header == ResponseHeader(1, 2, 20, 4)
    assert kvs[0].key == b"/k00000" and kvs[-1].key == b"/k00999"
    assert [kv.key for kv in kvs[:2]] == [b"/k00000", b"/k00001"]
    assert isinstance(kvs[:2], tuple) and isinstance(kvs[0], KeyValue)
    assert [kv.key for kv in reversed(kvs)][:1] == [b"/k00999"]
    assert [kv.key for kv in kvs] == response.keys() == [b"/k%05d" % i for i in range(n)]
    assert response.values() == [b"v"] * n
    assert response.items() == kvs.items() == [(b"/k%05d" % i, b"v") for i in range(n)]
    assert kvs.keys() == response.keys() and kvs.values() == response.values()
    with pytest.raises(IndexError):
        kvs[n]
    # Compared, hashed, copied and pickled like the tuple of its KeyValues.
    as_tuple = tuple(kvs)
    assert kvs == as_tuple and as_tuple == kvs and kvs == GetResponse._from_pb(pb).kvs
    assert kvs != as_tuple[1:] and kvs != list(as_tuple)
    assert hash(kvs) == hash(as_tuple)
    assert KeyValue(b"/k00001", b"v", 10, 20, 3, 7) in kvs
    for again in (
        pickle.loads(pickle.dumps(response)),
        copy.copy(response),
        copy.deepcopy(response),
    ):
        assert again == response and again.items() == response.items()
    detached = copy.copy(kvs)
    assert detached == kvs and all(type(kv._pb) is not kv_pb2.KeyValue for kv in detached)
    assert repr(response).startswith("GetResponse(header=ResponseHeader(") and "/k00999" in repr(
        kvs
    )


def test_many_deleted_keys_are_converted_with_the_collector_paused_then_restored() -> None:
    n = types._PAUSE_GC_FROM + 10
    pb = rpc_pb2.DeleteRangeResponse(
        header=HDR, deleted=n, prev_kvs=[wire_kv(b"/k%05d" % i) for i in range(n)]
    )
    assert gc.isenabled()
    response = DeleteResponse._from_pb(pb)
    assert gc.isenabled()
    assert response.deleted == n and [kv.key for kv in response.prev_kvs[:1]] == [b"/k00000"]
    gc.disable()
    try:  # a caller that paused the collector itself keeps it paused
        DeleteResponse._from_pb(pb)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_key_values_built_by_the_caller_behave_the_same() -> None:
    built = KeyValues([KeyValue(*FIELDS), KeyValue(b"/l", b"w", 11, 21, 1, 0)])
    assert len(built) == 2 and built[1].key == b"/l" and built[:1] == (KeyValue(*FIELDS),)
    assert built.items() == [(b"/k", b"v"), (b"/l", b"w")]
    response = GetResponse(ResponseHeader(1, 2, 20, 4), built, 2, False)
    assert response.keys() == [b"/k", b"/l"] and response.kv == KeyValue(*FIELDS)
    as_tuple = GetResponse(ResponseHeader(1, 2, 20, 4), tuple(built), 2, False)
    assert as_tuple == response and as_tuple.items() == response.items()
    assert KeyValues() == () and not KeyValues()


def test_small_get_and_put_responses() -> None:
    got = GetResponse._from_pb(rpc_pb2.RangeResponse(header=HDR, count=1, kvs=[wire_kv()]))
    assert got == GetResponse(ResponseHeader(1, 2, 20, 4), (KeyValue(*FIELDS),), 1, False)
    assert got.kv == KeyValue(*FIELDS) and got.value == b"v"
    empty = GetResponse._from_pb(rpc_pb2.RangeResponse(header=HDR))
    assert empty.kv is None and empty.value is None and len(empty) == 0
    assert empty.kvs == () and empty.items() == [] and empty.keys() == []
    put = PutResponse._from_pb(rpc_pb2.PutResponse(header=HDR))
    assert put == PutResponse(ResponseHeader(1, 2, 20, 4), None)
    prev = PutResponse._from_pb(rpc_pb2.PutResponse(header=HDR, prev_kv=wire_kv()))
    assert prev.prev_kv == KeyValue(*FIELDS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        put.prev_kv = None  # type: ignore[misc]
