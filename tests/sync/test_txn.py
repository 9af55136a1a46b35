# GENERATED from tests/async_/test_txn.py by scripts/unasync.py -- do not edit.
"""Transactions: the If/Then/Else builder, every compare target and operator, nested txns."""

from __future__ import annotations

import pytest

from etcd_recipes import (
    Client,
    Compare,
    DeleteResponse,
    DuplicateKeyError,
    GetResponse,
    InvalidArgumentError,
    Op,
    PutResponse,
    TooManyOpsError,
    Txn,
    TxnResponse,
)


def test_hi_transaction_takes_both_branches(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    hi, test = etcd_key_prefix + "hi", etcd_key_prefix + "test/"
    c.put(test + "a", "A")

    def txn() -> Txn:
        return (
            c.txn()
            .if_(Compare.value(hi) == "hello")
            .then(Op.get(hi))
            .else_(Op.get(test, prefix=True))
        )

    c.put(hi, "hello")
    yes = txn().commit()
    assert yes.succeeded
    assert isinstance(yes.responses[0], GetResponse)
    assert yes.responses[0].value == b"hello"
    c.put(hi, "bye")
    no = txn().commit()
    assert not no.succeeded
    assert isinstance(no.responses[0], GetResponse)
    assert [kv.value for kv in no.responses[0].kvs] == [b"A"]


def test_compare_targets_and_operators(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "k"
    lease = c.lease.grant(30)
    put = c.put(key, "b", lease=lease)
    rev = put.header.revision
    holds = [
        Compare.value(key) == "b",
        Compare.value(key) != "a",
        Compare.value(key) > "a",
        Compare.value(key) < "c",
        Compare.version(key) == 1,
        Compare.create_revision(key) == rev,
        Compare.mod_revision(key) < rev + 1,
        Compare.mod_revision(key) > rev - 1,
        Compare.lease(key) == lease,
        Compare.lease(key) == lease.id,
        Compare.version(etcd_key_prefix, prefix=True) > 0,
    ]
    for compare in holds:
        result = c.txn().if_(compare).commit()
        assert result.succeeded, compare
    fails = [Compare.value(key) == "x", Compare.version(key) == 0, Compare.lease(key) == 0]
    for compare in fails:
        assert not (c.txn().if_(compare).commit()).succeeded, compare
    lease.revoke()


def test_put_if_absent_is_a_cas(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    key = etcd_key_prefix + "once"
    first = c.txn().if_(Compare.create_revision(key) == 0).then(Op.put(key, "1")).commit()
    second = c.txn().if_(Compare.create_revision(key) == 0).then(Op.put(key, "2")).commit()
    assert first.succeeded and not second.succeeded
    assert (c.get(key)).value == b"1"


def test_ops_put_delete_and_nested_txn(etcd_client: Client, etcd_key_prefix: str) -> None:
    c = etcd_client
    a, b = etcd_key_prefix + "a", etcd_key_prefix + "b"
    c.put(b, "gone soon")
    result = (
        c.txn()
        .then(
            Op.put(a, "1", prev_kv=True),
            Op.delete(b, prev_kv=True),
            Op.txn([Compare.value(b) == "gone soon"], [Op.get(a)], []),
        )
        .commit()
    )
    put, delete, nested = result.responses
    assert isinstance(put, PutResponse) and put.prev_kv is None
    assert isinstance(delete, DeleteResponse) and delete.deleted == 1
    assert isinstance(nested, TxnResponse) and nested.succeeded
    inner = nested.responses[0]
    # Every compare (nested ones too) sees the store as it was before the transaction.
    assert isinstance(inner, GetResponse) and inner.value == b"1"


def test_bad_transactions_raise_and_write_nothing(
    etcd_client: Client, etcd_key_prefix: str
) -> None:
    c = etcd_client
    ops = [Op.put(f"{etcd_key_prefix}many/{i}", "x") for i in range(200)]
    with pytest.raises(TooManyOpsError):
        c.txn().then(*ops).commit()
    dup = etcd_key_prefix + "dup"
    with pytest.raises(DuplicateKeyError):
        c.txn().then(Op.put(dup, "1"), Op.put(dup, "2")).commit()
    assert (c.get(etcd_key_prefix, prefix=True, count_only=True)).count == 0
    with pytest.raises(InvalidArgumentError):
        c.txn().then(Op.get(dup)).if_(Compare.version(dup) == 0)
    with pytest.raises(InvalidArgumentError):
        Compare.version(dup) == "not a number"  # noqa: B015
    with pytest.raises(InvalidArgumentError):
        c.txn().if_("not a compare").commit()  # type: ignore[arg-type]
