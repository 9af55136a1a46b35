"""Request building: range/put/delete requests, transaction compares and operations (pure).

``Compare.value("/hi") == "hello"`` builds a compare; ``Op.get``/``Op.put``/``Op.delete``/
``Op.txn`` build operations. Both are immutable and reusable; they hold the wire message.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from .._exceptions import InvalidArgumentError
from .._pb import rpc_pb2
from .keys import KeyLike, range_end_for, to_bytes, to_key

_PutRequest = rpc_pb2.PutRequest
_RangeRequest = rpc_pb2.RangeRequest


class SortOrder(enum.Enum):
    """Sort order of a range read."""

    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(enum.Enum):
    """What a range read sorts by."""

    KEY = 0
    VERSION = 1
    CREATE = 2
    MOD = 3
    VALUE = 4


def _key_and_end(key: KeyLike, prefix: bool, range_end: KeyLike | None, from_key: bool) -> Any:
    if prefix and to_bytes(key, "key") == b"":
        return b"\0", b"\0"  # every key
    raw = to_key(key)
    return raw, range_end_for(raw, prefix=prefix, range_end=range_end, from_key=from_key)


def lease_id(lease: Any) -> int:
    """A lease id from an int or any object with an ``id`` attribute (our lease objects)."""
    if lease is None:
        return 0
    value = lease if isinstance(lease, int) else getattr(lease, "id", None)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgumentError(f"lease must be a lease id or a lease object, not {lease!r}")
    return value


def range_request(
    key: KeyLike,
    *,
    prefix: bool = False,
    range_end: KeyLike | None = None,
    from_key: bool = False,
    limit: int = 0,
    revision: int = 0,
    sort_order: SortOrder = SortOrder.NONE,
    sort_target: SortTarget = SortTarget.KEY,
    serializable: bool = False,
    keys_only: bool = False,
    count_only: bool = False,
    min_mod_revision: int = 0,
    max_mod_revision: int = 0,
    min_create_revision: int = 0,
    max_create_revision: int = 0,
) -> rpc_pb2.RangeRequest:
    """The wire RangeRequest for ``get``'s options."""
    if (
        not (
            prefix
            or range_end is not None
            or from_key
            or limit
            or revision
            or serializable
            or keys_only
            or count_only
            or min_mod_revision
            or max_mod_revision
            or min_create_revision
            or max_create_revision
        )
        and sort_order is SortOrder.NONE
        and sort_target is SortTarget.KEY
    ):
        # The common case (one key, default options): only the key goes on the wire.
        return _RangeRequest(key=key if key.__class__ is bytes and key else to_key(key))
    raw, end = _key_and_end(key, prefix, range_end, from_key)
    for name, number in (
        ("limit", limit),
        ("revision", revision),
        ("min_mod_revision", min_mod_revision),
        ("max_mod_revision", max_mod_revision),
        ("min_create_revision", min_create_revision),
        ("max_create_revision", max_create_revision),
    ):
        if number < 0:
            raise InvalidArgumentError(f"{name} must be >= 0, not {number}")
    return rpc_pb2.RangeRequest(
        key=raw,
        range_end=end,
        limit=limit,
        revision=revision,
        sort_order=SortOrder(sort_order).value,  # type: ignore[arg-type]
        sort_target=SortTarget(sort_target).value,  # type: ignore[arg-type]
        serializable=serializable,
        keys_only=keys_only,
        count_only=count_only,
        min_mod_revision=min_mod_revision,
        max_mod_revision=max_mod_revision,
        min_create_revision=min_create_revision,
        max_create_revision=max_create_revision,
    )


def put_request(
    key: KeyLike,
    value: KeyLike,
    *,
    lease: Any = None,
    prev_kv: bool = False,
    ignore_value: bool = False,
    ignore_lease: bool = False,
) -> rpc_pb2.PutRequest:
    """The wire PutRequest for ``put``'s options."""
    if lease is None and not (prev_kv or ignore_value or ignore_lease):
        # The common case: set only the two fields that are sent (setting defaults costs time).
        if key.__class__ is bytes and key and value.__class__ is bytes:
            return _PutRequest(key=key, value=value)  # already valid bytes: no conversion
        return _PutRequest(key=to_key(key), value=to_bytes(value))
    return rpc_pb2.PutRequest(
        key=to_key(key),
        value=b"" if ignore_value else to_bytes(value),
        lease=0 if ignore_lease else lease_id(lease),
        prev_kv=prev_kv,
        ignore_value=ignore_value,
        ignore_lease=ignore_lease,
    )


def delete_request(
    key: KeyLike,
    *,
    prefix: bool = False,
    range_end: KeyLike | None = None,
    from_key: bool = False,
    prev_kv: bool = False,
) -> rpc_pb2.DeleteRangeRequest:
    """The wire DeleteRangeRequest for ``delete``'s options."""
    raw, end = _key_and_end(key, prefix, range_end, from_key)
    return rpc_pb2.DeleteRangeRequest(key=raw, range_end=end, prev_kv=prev_kv)


class Op:
    """One operation of a transaction: ``Op.get``, ``Op.put``, ``Op.delete`` or ``Op.txn``."""

    __slots__ = ("_pb",)

    def __init__(self, pb: rpc_pb2.RequestOp) -> None:
        self._pb = pb

    @classmethod
    def get(cls, key: KeyLike, **options: Any) -> Op:
        """A range read; takes the same options as ``client.get``."""
        return cls(rpc_pb2.RequestOp(request_range=range_request(key, **options)))

    @classmethod
    def put(cls, key: KeyLike, value: KeyLike, **options: Any) -> Op:
        """A write; takes the same options as ``client.put``."""
        return cls(rpc_pb2.RequestOp(request_put=put_request(key, value, **options)))

    @classmethod
    def delete(cls, key: KeyLike, **options: Any) -> Op:
        """A delete; takes the same options as ``client.delete``."""
        return cls(rpc_pb2.RequestOp(request_delete_range=delete_request(key, **options)))

    @classmethod
    def txn(
        cls,
        compares: Iterable[Compare] = (),
        success: Iterable[Op] = (),
        failure: Iterable[Op] = (),
    ) -> Op:
        """A nested transaction (etcd >= 3.3)."""
        return cls(rpc_pb2.RequestOp(request_txn=txn_request(compares, success, failure)))

    def __repr__(self) -> str:
        return f"Op({self._pb.WhichOneof('request')})"


def txn_request(
    compares: Iterable[Compare], success: Iterable[Op], failure: Iterable[Op]
) -> rpc_pb2.TxnRequest:
    """The wire TxnRequest for a list of compares and the two branches."""
    cmp_pbs = []
    for c in compares:
        if not isinstance(c, Compare):
            raise InvalidArgumentError(f"expected a Compare, got {c!r}")
        cmp_pbs.append(c._pb)
    return rpc_pb2.TxnRequest(compare=cmp_pbs, success=_op_pbs(success), failure=_op_pbs(failure))


def _op_pbs(ops: Iterable[Op]) -> list[rpc_pb2.RequestOp]:
    out = []
    for op in ops:
        if not isinstance(op, Op):
            raise InvalidArgumentError(f"expected an Op, got {op!r}")
        out.append(op._pb)
    return out


_R = rpc_pb2.Compare
_FIELDS: dict[int, str] = {
    _R.VERSION: "version",
    _R.CREATE: "create_revision",
    _R.MOD: "mod_revision",
}


class Compare:
    """A transaction condition: a target compared with ``==``, ``!=``, ``<`` or ``>``::

    Compare.value("/hi") == "hello"
    Compare.version("/lock") == 0          # the key does not exist
    Compare.create_revision("/k") < 100
    Compare.mod_revision("/k", prefix=True) < 100   # every key under the prefix
    Compare.lease("/k") == lease
    """

    __slots__ = ("_pb",)

    def __init__(self, pb: rpc_pb2.Compare) -> None:
        self._pb = pb

    @staticmethod
    def value(key: KeyLike, *, prefix: bool = False) -> CompareTarget:
        """Compare the key's value (bytes or str)."""
        return CompareTarget(key, _R.VALUE, prefix)

    @staticmethod
    def version(key: KeyLike, *, prefix: bool = False) -> CompareTarget:
        """Compare the key's version (0 means the key does not exist)."""
        return CompareTarget(key, _R.VERSION, prefix)

    @staticmethod
    def create_revision(key: KeyLike, *, prefix: bool = False) -> CompareTarget:
        """Compare the revision that created the key (0 means the key does not exist)."""
        return CompareTarget(key, _R.CREATE, prefix)

    @staticmethod
    def mod_revision(key: KeyLike, *, prefix: bool = False) -> CompareTarget:
        """Compare the revision of the key's last change."""
        return CompareTarget(key, _R.MOD, prefix)

    @staticmethod
    def lease(key: KeyLike, *, prefix: bool = False) -> CompareTarget:
        """Compare the id of the lease the key is bound to (0 for none)."""
        return CompareTarget(key, _R.LEASE, prefix)

    def __repr__(self) -> str:
        pb = self._pb
        target = _R.CompareTarget.Name(pb.target)
        return f"Compare({pb.key!r} {target} {_R.CompareResult.Name(pb.result)})"


class CompareTarget:
    """The left side of a compare; ``==``, ``!=``, ``<`` and ``>`` turn it into a ``Compare``."""

    __slots__ = ("_end", "_key", "_target")

    def __init__(self, key: KeyLike, target: int, prefix: bool) -> None:
        if prefix and to_bytes(key, "key") == b"":
            self._key, self._end = b"\0", b"\0"
        else:
            self._key = to_key(key)
            self._end = range_end_for(self._key, prefix=prefix, range_end=None)
        self._target = target

    def _build(self, result: int, other: object) -> Compare:
        pb = rpc_pb2.Compare(
            result=result,  # type: ignore[arg-type]
            target=self._target,  # type: ignore[arg-type]
            key=self._key,
            range_end=self._end,
        )
        if self._target == _R.VALUE:
            if not isinstance(other, (str, bytes)):
                raise InvalidArgumentError(f"a value compare needs str or bytes, not {other!r}")
            pb.value = to_bytes(other)
        else:
            number = lease_id(other) if self._target == _R.LEASE else other
            if not isinstance(number, int) or isinstance(number, bool):
                raise InvalidArgumentError(f"this compare needs an int, not {other!r}")
            setattr(pb, _FIELDS.get(self._target, "lease"), number)
        return Compare(pb)

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return self._build(_R.EQUAL, other)

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return self._build(_R.NOT_EQUAL, other)

    def __lt__(self, other: object) -> Compare:
        return self._build(_R.LESS, other)

    def __gt__(self, other: object) -> Compare:
        return self._build(_R.GREATER, other)

    __hash__ = None  # type: ignore[assignment]
