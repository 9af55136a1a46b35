"""KV verbs against a real etcd: put, get (all options), delete, compact."""

from __future__ import annotations

import gc
import pickle

import pytest

from etcd_recipes import (
    AsyncClient,
    CompactedError,
    FutureRevisionError,
    InvalidArgumentError,
    KeyValues,
    Op,
    SortOrder,
    SortTarget,
)


async def test_put_get_delete_roundtrip(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    key = etcd_key_prefix + "k"
    put = await etcd_async_client.put(key, "v1")
    assert put.header.revision > 0
    assert put.prev_kv is None
    got = await etcd_async_client.get(key)
    assert got.value == b"v1"
    kv = got.kv
    assert kv is not None
    assert (kv.key, kv.version, kv.lease) == (key.encode(), 1, 0)
    assert kv.create_revision == kv.mod_revision == put.header.revision
    again = await etcd_async_client.put(key, b"v2", prev_kv=True)
    assert again.prev_kv is not None and again.prev_kv.value == b"v1"
    deleted = await etcd_async_client.delete(key, prev_kv=True)
    assert deleted.deleted == 1
    assert [kv.value for kv in deleted.prev_kvs] == [b"v2"]
    assert (await etcd_async_client.get(key)).kvs == ()
    assert (await etcd_async_client.get(key)).value is None


async def test_str_and_bytes_keys_are_the_same_key(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    await etcd_async_client.put(etcd_key_prefix + "ü", "wert")
    got = await etcd_async_client.get((etcd_key_prefix + "ü").encode())
    assert got.value == b"wert"


async def test_prefix_range_limit_sort_and_counts(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    for i in range(5):
        await c.put(f"{etcd_key_prefix}k{i}", f"v{i}")
    await c.put(etcd_key_prefix[:-1] + "0", "outside the prefix")
    everything = await c.get(etcd_key_prefix, prefix=True)
    assert [kv.key.decode()[-2:] for kv in everything.kvs] == ["k0", "k1", "k2", "k3", "k4"]
    assert everything.count == 5 and not everything.more
    limited = await c.get(etcd_key_prefix, prefix=True, limit=2)
    assert len(limited) == 2 and limited.more and limited.count == 5
    newest = await c.get(
        etcd_key_prefix,
        prefix=True,
        sort_order=SortOrder.DESCEND,
        sort_target=SortTarget.CREATE,
        limit=1,
    )
    assert newest.kvs[0].key.endswith(b"k4")
    keys_only = await c.get(etcd_key_prefix, prefix=True, keys_only=True)
    assert all(kv.value == b"" for kv in keys_only.kvs)
    counted = await c.get(etcd_key_prefix, prefix=True, count_only=True)
    assert counted.count == 5 and counted.kvs == ()
    ranged = await c.get(etcd_key_prefix + "k1", range_end=etcd_key_prefix + "k3")
    assert [kv.key[-2:] for kv in ranged.kvs] == [b"k1", b"k2"]
    serial = await c.get(etcd_key_prefix + "k0", serializable=True)
    assert serial.value == b"v0"


async def test_revision_filters_and_history(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "h"
    first = (await c.put(key, "old")).header.revision
    await c.put(key, "new")
    assert (await c.get(key, revision=first)).value == b"old"
    assert (await c.get(key)).value == b"new"
    await c.put(etcd_key_prefix + "later", "x")
    newer = await c.get(etcd_key_prefix, prefix=True, min_create_revision=first + 1)
    assert [kv.key for kv in newer.kvs] == [(etcd_key_prefix + "later").encode()]
    older = await c.get(etcd_key_prefix, prefix=True, max_mod_revision=first)
    assert older.kvs == ()
    with pytest.raises(FutureRevisionError):
        await c.get(key, revision=first + 10_000_000)


async def test_delete_prefix(etcd_async_client: AsyncClient, etcd_key_prefix: str) -> None:
    c = etcd_async_client
    for i in range(3):
        await c.put(f"{etcd_key_prefix}d/{i}", "x")
    await c.put(etcd_key_prefix + "keep", "x")
    assert (await c.delete(etcd_key_prefix + "d/", prefix=True)).deleted == 3
    left = await c.get(etcd_key_prefix, prefix=True)
    assert [kv.key for kv in left.kvs] == [(etcd_key_prefix + "keep").encode()]


async def test_compact_then_old_revision_raises_compacted(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    c = etcd_async_client
    key = etcd_key_prefix + "c"
    old = (await c.put(key, "1")).header.revision
    now = (await c.put(key, "2")).header.revision
    await c.compact(now, physical=True)
    with pytest.raises(CompactedError):
        await c.get(key, revision=old)
    assert (await c.get(key)).value == b"2"
    with pytest.raises(InvalidArgumentError):
        await c.compact(0)


async def test_kv_is_reachable_as_client_kv(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    await etcd_async_client.kv.put(etcd_key_prefix + "kv", "via kv")
    assert (await etcd_async_client.kv.get(etcd_key_prefix + "kv")).value == b"via kv"


async def test_large_range_keyvalues_are_plain_values(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    """A large range: every pair is right through ``kvs`` (a KeyValues sequence, equal to the
    tuple of its KeyValues) and through ``items()``/``keys()``/``values()``, the collector is on,
    and a kept pair outlives the response as an equal value."""
    c = etcd_async_client
    n = 600
    for start in range(0, n, 100):
        ops = [Op.put(f"{etcd_key_prefix}{i:04d}", f"v{i}") for i in range(start, start + 100)]
        await c.txn().then(*ops).commit()
    got = await c.get(etcd_key_prefix, prefix=True)
    assert gc.isenabled()
    assert got.count == n and len(got) == n
    assert [kv.key for kv in got.kvs] == [f"{etcd_key_prefix}{i:04d}".encode() for i in range(n)]
    assert [kv.value for kv in got.kvs] == [f"v{i}".encode() for i in range(n)]
    keys = [f"{etcd_key_prefix}{i:04d}".encode() for i in range(n)]
    assert isinstance(got.kvs, KeyValues) and got.kvs == tuple(got.kvs)
    assert got.items() == list(zip(keys, [f"v{i}".encode() for i in range(n)], strict=True))
    assert got.keys() == keys and got.values()[:2] == [b"v0", b"v1"]
    assert [kv.key for kv in got.kvs[10:12]] == keys[10:12]
    assert (await c.get(etcd_key_prefix, prefix=True, keys_only=True)).values() == [b""] * n
    last = got.kvs[-1]
    kept = pickle.loads(pickle.dumps(last))
    assert kept == last and hash(kept) == hash(last) and repr(kept) == repr(last)
    assert kept.version == 1 and kept.lease == 0 and kept.create_revision == last.mod_revision
    del got
    single = (await c.get(f"{etcd_key_prefix}{n - 1:04d}")).kv
    assert single == last and {single, kept} == {last}
