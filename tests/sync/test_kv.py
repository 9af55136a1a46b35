# GENERATED from tests/async_/test_kv.py by scripts/unasync.py -- do not edit.
"""KV verbs against a real etcd: put, get (all options), delete, compact."""

from __future__ import annotations

import gc
import pickle

import pytest

from etcd_recipes import (
    Client,
    CompactedError,
    FutureRevisionError,
    InvalidArgumentError,
    KeyValues,
    Op,
    SortOrder,
    SortTarget,
)


def test_put_get_delete_roundtrip(etcd_client: Client, etcd_key_prefix: str) -> None:
    key = etcd_key_prefix + "k"
    put = etcd_client.put(key, "v1")
    assert put.header.revision > 0
    assert put.prev_kv is None
    got = etcd_client.get(key)
    assert got.value == b"v1"
    kv = got.kv
    assert kv is not None
    assert (kv.key, kv.version, kv.lease) == (key.encode(), 1, 0)
    assert kv.create_revision == kv.mod_revision == put.header.revision
    again = etcd_client.put(key, b"v2", prev_kv=True)
    assert again.prev_kv is not None and again.prev_kv.value == b"v1"
    deleted = etcd_client.delete(key, prev_kv=True)
    assert deleted.deleted == 1
    assert [kv.value for kv in deleted.prev_kvs] == [b"v2"]
    assert (etcd_client.get(key)).kvs == ()
    assert (etcd_client.get(key)).value is None


def test_str_and_bytes_keys_are_the_same_key(etcd_client: Client, etcd_key_prefix: str) -> None:
    etcd_client.put(etcd_key_prefix + "ü", "wert")
    got = etcd_client.get((etcd_key_prefix + "ü").encode())
    assert got.value == b"wert"


def test_prefix_range_limit_sort_and_counts(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    for i in range(5):
        c.put(f"{etcd_key_prefix}k{i}", f"v{i}")
    c.put(etcd_key_prefix[:-1] + "0", "outside the prefix")
    everything = c.get(etcd_key_prefix, prefix=True)
    assert [kv.key.decode()[-2:] for kv in everything.kvs] == ["k0", "k1", "k2", "k3", "k4"]
    assert everything.count == 5 and not everything.more
    limited = c.get(etcd_key_prefix, prefix=True, limit=2)
    assert len(limited) == 2 and limited.more and limited.count == 5
    newest = c.get(
        etcd_key_prefix,
        prefix=True,
        sort_order=SortOrder.DESCEND,
        sort_target=SortTarget.CREATE,
        limit=1,
    )
    assert newest.kvs[0].key.endswith(b"k4")
    keys_only = c.get(etcd_key_prefix, prefix=True, keys_only=True)
    assert all(kv.value == b"" for kv in keys_only.kvs)
    counted = c.get(etcd_key_prefix, prefix=True, count_only=True)
    assert counted.count == 5 and counted.kvs == ()
    ranged = c.get(etcd_key_prefix + "k1", range_end=etcd_key_prefix + "k3")
    assert [kv.key[-2:] for kv in ranged.kvs] == [b"k1", b"k2"]
    serial = c.get(etcd_key_prefix + "k0", serializable=True)
    assert serial.value == b"v0"


def test_revision_filters_and_history(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "h"
    first = (c.put(key, "old")).header.revision
    c.put(key, "new")
    assert (c.get(key, revision=first)).value == b"old"
    assert (c.get(key)).value == b"new"
    c.put(etcd_key_prefix + "later", "x")
    newer = c.get(etcd_key_prefix, prefix=True, min_create_revision=first + 1)
    assert [kv.key for kv in newer.kvs] == [(etcd_key_prefix + "later").encode()]
    older = c.get(etcd_key_prefix, prefix=True, max_mod_revision=first)
    assert older.kvs == ()
    with pytest.raises(FutureRevisionError):
        c.get(key, revision=first + 10_000_000)


def test_delete_prefix(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    for i in range(3):
        c.put(f"{etcd_key_prefix}d/{i}", "x")
    c.put(etcd_key_prefix + "keep", "x")
    assert (c.delete(etcd_key_prefix + "d/", prefix=True)).deleted == 3
    left = c.get(etcd_key_prefix, prefix=True)
    assert [kv.key for kv in left.kvs] == [(etcd_key_prefix + "keep").encode()]


def test_compact_then_old_revision_raises_compacted(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    key = etcd_key_prefix + "c"
    old = (c.put(key, "1")).header.revision
    now = (c.put(key, "2")).header.revision
    c.compact(now, physical=True)
    with pytest.raises(CompactedError):
        c.get(key, revision=old)
    assert (c.get(key)).value == b"2"
    with pytest.raises(InvalidArgumentError):
        c.compact(0)


def test_kv_is_reachable_as_client_kv(etcd_client: Client, etcd_key_prefix: str) -> None:
    etcd_client.kv.put(etcd_key_prefix + "kv", "via kv")
    assert (etcd_client.kv.get(etcd_key_prefix + "kv")).value == b"via kv"


def test_large_range_keyvalues_are_plain_values(etcd_client: Client, etcd_key_prefix: str) -> None:
    """A large range: every pair is right through ``kvs`` (a KeyValues sequence, equal to the
    tuple of its KeyValues) and through ``items()``/``keys()``/``values()``, the collector is on,
    and a kept pair outlives the response as an equal value."""
    c = etcd_client
    n = 600
    for start in range(0, n, 100):
        ops = [Op.put(f"{etcd_key_prefix}{i:04d}", f"v{i}") for i in range(start, start + 100)]
        c.txn().then(*ops).commit()
    got = c.get(etcd_key_prefix, prefix=True)
    assert gc.isenabled()
    assert got.count == n and len(got) == n
    assert [kv.key for kv in got.kvs] == [f"{etcd_key_prefix}{i:04d}".encode() for i in range(n)]
    assert [kv.value for kv in got.kvs] == [f"v{i}".encode() for i in range(n)]
    keys = [f"{etcd_key_prefix}{i:04d}".encode() for i in range(n)]
    assert isinstance(got.kvs, KeyValues) and got.kvs == tuple(got.kvs)
    assert got.items() == list(zip(keys, [f"v{i}".encode() for i in range(n)], strict=True))
    assert got.keys() == keys and got.values()[:2] == [b"v0", b"v1"]
    assert [kv.key for kv in got.kvs[10:12]] == keys[10:12]
    assert (c.get(etcd_key_prefix, prefix=True, keys_only=True)).values() == [b""] * n
    last = got.kvs[-1]
    kept = pickle.loads(pickle.dumps(last))
    assert kept == last and hash(kept) == hash(last) and repr(kept) == repr(last)
    assert kept.version == 1 and kept.lease == 0 and kept.create_revision == last.mod_revision
    del got
    single = (c.get(f"{etcd_key_prefix}{n - 1:04d}")).kv
    assert single == last and {single, kept} == {last}
