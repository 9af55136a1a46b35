"""Typed, immutable responses (pure code). No protobuf object leaks into the public API:
every response is converted here from its wire message."""

from __future__ import annotations

import enum
import gc
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import FrozenInstanceError, dataclass, fields
from operator import attrgetter
from typing import Any, Union, overload

from .._pb import kv_pb2, rpc_pb2

_gc_enabled, _gc_disable, _gc_enable = gc.isenabled, gc.disable, gc.enable


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """Every response's header: the store revision it reflects, and who answered."""

    cluster_id: int
    member_id: int
    revision: int
    raft_term: int

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.ResponseHeader) -> ResponseHeader:
        return _header(pb)


class KeyValue:
    """A key and its value with etcd's metadata.

    ``create_revision`` is the revision that created the key (stable while the key lives; used
    as a fencing token by the recipes), ``mod_revision`` the last change, ``version`` the number
    of changes since creation, ``lease`` the lease id the key is bound to (0 for none).

    Immutable, compared and hashed by its six fields, picklable, and a dataclass for
    ``dataclasses.fields()``/``replace()``/``asdict()``. One built from a response is a view of
    that response's wire message (building 10,000 of them costs ~1 ms instead of ~6 ms): while
    it lives, the parsed response it came from stays in memory. ``copy.copy(kv)`` gives a
    stand-alone one, for keeping a few pairs of a large range for long.
    """

    __slots__ = ("_pb",)
    __match_args__ = ("key", "value", "create_revision", "mod_revision", "version", "lease")
    # The fields are read from ``_pb``: the wire message, or a ``_Fields`` tuple (same names)
    # when built by the constructor. C-level getters keep attribute reads cheap.
    key: bytes = property(attrgetter("_pb.key"))  # type: ignore[assignment]
    value: bytes = property(attrgetter("_pb.value"))  # type: ignore[assignment]
    create_revision: int = property(attrgetter("_pb.create_revision"))  # type: ignore[assignment]
    mod_revision: int = property(attrgetter("_pb.mod_revision"))  # type: ignore[assignment]
    version: int = property(attrgetter("_pb.version"))  # type: ignore[assignment]
    lease: int = property(attrgetter("_pb.lease"))  # type: ignore[assignment]

    def __init__(
        self,
        key: bytes,
        value: bytes,
        create_revision: int,
        mod_revision: int,
        version: int,
        lease: int,
    ) -> None:
        _KV_SET(self, _Fields(key, value, create_revision, mod_revision, version, lease))

    @classmethod
    def _from_pb(cls, pb: kv_pb2.KeyValue) -> KeyValue:
        return _keyvalue(pb)

    def __repr__(self) -> str:
        return (
            f"KeyValue(key={self.key!r}, value={_short(self.value)}, "
            f"create_revision={self.create_revision}, mod_revision={self.mod_revision}, "
            f"version={self.version}, lease={self.lease})"
        )

    # As a frozen dataclass: equal to a KeyValue with equal fields, NotImplemented otherwise.
    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(_kv_fields(self) == _kv_fields(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_kv_fields(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy: stand-alone, no wire message
        return (KeyValue, _kv_fields(self))


_FIELD_NAMES = ("key", "value", "create_revision", "mod_revision", "version", "lease")
_Fields = namedtuple(  # a private record, built only by KeyValue()
    "_Fields", ["key", "value", "create_revision", "mod_revision", "version", "lease"]
)
_kv_fields = attrgetter(*(f"_pb.{n}" for n in _FIELD_NAMES))
_KV_SET = KeyValue.__dict__["_pb"].__set__


@dataclass(frozen=True)
class _KeyValueFields:
    """KeyValue's fields as a dataclass sees them (lends KeyValue its dataclass metadata)."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


for _name in ("__dataclass_fields__", "__dataclass_params__"):
    type.__setattr__(KeyValue, _name, getattr(_KeyValueFields, _name))


def _short(value: bytes) -> str:
    return repr(value) if len(value) <= 64 else repr(value[:64])[:-1] + "...'"


# Fast constructors: a frozen dataclass's generated __init__ calls object.__setattr__ once per
# field; setting the slots through their descriptors builds the same immutable object faster.
_new = object.__new__


def _slot_setters(cls: Any) -> tuple[Any, ...]:
    """The slot setters of a frozen slots dataclass, in field order."""
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


_H_SET = _slot_setters(ResponseHeader)


def _header(pb: Any, _c: Any = ResponseHeader, _s: Any = _H_SET) -> ResponseHeader:
    o = _new(_c)
    _s[0](o, pb.cluster_id)
    _s[1](o, pb.member_id)
    _s[2](o, pb.revision)
    _s[3](o, pb.raft_term)
    return o  # type: ignore[no-any-return]


def _keyvalue(pb: Any, _c: Any = KeyValue, _s: Any = _KV_SET) -> KeyValue:
    o = _new(_c)
    _s(o, pb)  # a view: the fields are read from the message when asked for
    return o  # type: ignore[no-any-return]


# A range this large is built with the garbage collector paused: its thousands of new objects
# would otherwise set off collections, and promote them so that full collections of the whole
# process heap follow (2 ms per 10,000 keys here). They are freed by reference counting.
_PAUSE_GC_FROM = 512


def _kvs(pbs: Any) -> tuple[KeyValue, ...]:
    if len(pbs) < _PAUSE_GC_FROM or not _gc_enabled():
        return tuple(map(_keyvalue, pbs))
    _gc_disable()
    try:
        return tuple(map(_keyvalue, pbs))
    finally:
        _gc_enable()


_KEY_AND_VALUE = attrgetter("key", "value")
_ALL_FIELDS = attrgetter(*_FIELD_NAMES)  # of a wire message or a KeyValue
_KEY = attrgetter("key")
_VALUE = attrgetter("value")


class KeyValues(Sequence[KeyValue]):
    """The key-values of a range read: an immutable sequence, equal to a tuple of the same
    ``KeyValue`` items (and compared, hashed and pickled like one).

    Its items are made as they are reached, from the response's wire message: a range of
    10,000 keys costs nothing until it is read, and ``items()``, ``keys()`` and ``values()``
    read keys and values without making a ``KeyValue`` each (about half the cost of iterating).
    Like a ``KeyValue`` view, it keeps its parsed response in memory while it lives.
    """

    __slots__ = ("_make", "_pbs")

    def __init__(self, kvs: Iterable[KeyValue] = ()) -> None:
        self._pbs: Any = tuple(kvs)
        self._make: Any = None  # items are KeyValues already (wire messages: _keyvalue)

    def __len__(self) -> int:
        return len(self._pbs)

    @overload
    def __getitem__(self, index: int) -> KeyValue: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[KeyValue, ...]: ...
    def __getitem__(self, index: int | slice) -> KeyValue | tuple[KeyValue, ...]:
        item, make = self._pbs[index], self._make
        if isinstance(index, slice):
            return tuple(item if make is None else map(make, item))
        return item if make is None else make(item)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[KeyValue]:
        make = self._make
        return iter(self._pbs) if make is None else map(make, self._pbs)

    def __reversed__(self) -> Iterator[KeyValue]:
        make = self._make
        return reversed(self._pbs) if make is None else map(make, reversed(self._pbs))

    def items(self) -> list[tuple[bytes, bytes]]:
        """Every ``(key, value)`` pair, in order."""
        return list(map(_KEY_AND_VALUE, self._pbs))

    def keys(self) -> list[bytes]:
        """Every key, in order."""
        return list(map(_KEY, self._pbs))

    def values(self) -> list[bytes]:
        """Every value, in order."""
        return list(map(_VALUE, self._pbs))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeyValues):
            return tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy: stand-alone, no wire message
        return (KeyValues, (tuple(KeyValue(*_ALL_FIELDS(item)) for item in self._pbs),))


def _key_values(pbs: Any, _c: Any = KeyValues) -> KeyValues:
    o = _new(_c)
    _KVS_PBS(o, pbs)
    _KVS_MAKE(o, _keyvalue)
    return o  # type: ignore[no-any-return]


_KVS_PBS = KeyValues.__dict__["_pbs"].__set__
_KVS_MAKE = KeyValues.__dict__["_make"].__set__


@dataclass(frozen=True, slots=True)
class GetResponse:
    """The result of a range read: ``kvs`` (sorted as asked), ``count`` of all keys in the
    range (even beyond ``limit``), and ``more`` when ``limit`` cut the result.

    ``kvs`` is a ``KeyValues`` sequence (compares equal to a tuple of ``KeyValue``);
    ``items()``, ``keys()`` and ``values()`` are the fast way through a large range.
    """

    header: ResponseHeader
    kvs: Sequence[KeyValue]
    count: int
    more: bool

    @property
    def kv(self) -> KeyValue | None:
        """The first key-value, or None when nothing matched."""
        return self.kvs[0] if self.kvs else None

    @property
    def value(self) -> bytes | None:
        """The first key's value, or None when nothing matched."""
        rows = _rows(self.kvs)  # read from the wire message: no KeyValue made (get().value)
        return rows[0].value if rows else None

    def items(self) -> list[tuple[bytes, bytes]]:
        """Every ``(key, value)`` pair, in order (no ``KeyValue`` is made)."""
        return list(map(_KEY_AND_VALUE, _rows(self.kvs)))

    def keys(self) -> list[bytes]:
        """Every key, in order."""
        return list(map(_KEY, _rows(self.kvs)))

    def values(self) -> list[bytes]:
        """Every value, in order."""
        return list(map(_VALUE, _rows(self.kvs)))

    def __len__(self) -> int:
        return len(self.kvs)

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.RangeResponse) -> GetResponse:
        return _get_response(pb)


def _rows(kvs: Sequence[KeyValue]) -> Any:
    """The items behind ``kvs`` that have ``key`` and ``value``: wire messages or KeyValues."""
    return kvs._pbs if isinstance(kvs, KeyValues) else kvs


@dataclass(frozen=True, slots=True)
class PutResponse:
    """The result of a put; ``prev_kv`` is the overwritten pair when ``prev_kv=True`` was asked."""

    header: ResponseHeader
    prev_kv: KeyValue | None

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.PutResponse) -> PutResponse:
        return _put_response(pb)


_GET_SET = _slot_setters(GetResponse)
_PUT_SET = _slot_setters(PutResponse)


def _get_response(pb: Any, _c: Any = GetResponse, _s: Any = _GET_SET) -> GetResponse:
    o = _new(_c)
    _s[0](o, _header(pb.header))
    _s[1](o, _key_values(pb.kvs))
    _s[2](o, pb.count)
    _s[3](o, pb.more)
    return o  # type: ignore[no-any-return]


def _put_response(pb: Any, _c: Any = PutResponse, _s: Any = _PUT_SET) -> PutResponse:
    o = _new(_c)
    _s[0](o, _header(pb.header))
    _s[1](o, _keyvalue(pb.prev_kv) if pb.HasField("prev_kv") else None)
    return o  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class DeleteResponse:
    """The result of a delete: how many keys were ``deleted`` and, if asked, their ``prev_kvs``."""

    header: ResponseHeader
    deleted: int
    prev_kvs: tuple[KeyValue, ...]

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.DeleteRangeResponse) -> DeleteResponse:
        return cls(_header(pb.header), pb.deleted, _kvs(pb.prev_kvs))


@dataclass(frozen=True, slots=True)
class CompactResponse:
    """The result of a compaction."""

    header: ResponseHeader

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.CompactionResponse) -> CompactResponse:
        return cls(ResponseHeader._from_pb(pb.header))


OpResponse = Union[GetResponse, PutResponse, DeleteResponse, "TxnResponse"]


@dataclass(frozen=True, slots=True)
class TxnResponse:
    """The result of a transaction: ``succeeded`` tells which branch ran, ``responses`` holds one
    typed response per operation of that branch, in order."""

    header: ResponseHeader
    succeeded: bool
    responses: tuple[OpResponse, ...]

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.TxnResponse) -> TxnResponse:
        return cls(_header(pb.header), pb.succeeded, tuple(map(_op_response, pb.responses)))


def _op_response(pb: rpc_pb2.ResponseOp) -> OpResponse:
    which = pb.WhichOneof("response")
    if which == "response_put":
        return _put_response(pb.response_put)
    if which == "response_range":
        return _get_response(pb.response_range)
    if which == "response_delete_range":
        return DeleteResponse._from_pb(pb.response_delete_range)
    return TxnResponse._from_pb(pb.response_txn)


class EventType(enum.Enum):
    """What happened to a key."""

    PUT = 0
    DELETE = 1


class WatchFilter(enum.Enum):
    """Event types a watch can leave out."""

    NOPUT = 0
    NODELETE = 1


_EVENT_TYPES = (EventType.PUT, EventType.DELETE)


@dataclass(frozen=True, slots=True)
class Event:
    """One change seen by a watch: its ``type``, the key-value after it (for a DELETE: the key
    with the deletion's ``mod_revision``), and the previous key-value when ``prev_kv`` was asked."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None

    @property
    def key(self) -> bytes:
        """The key that changed."""
        return self.kv.key

    @property
    def value(self) -> bytes:
        """The new value (empty for a DELETE)."""
        return self.kv.value

    @property
    def revision(self) -> int:
        """The revision of the change."""
        return self.kv.mod_revision

    @classmethod
    def _from_pb(cls, pb: kv_pb2.Event) -> Event:
        return _event(pb)


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """A batch of events from one watch, all at revisions <= ``header.revision``.

    A response with no events and ``progress_notify`` True is a progress notification: nothing
    up to ``header.revision`` is missing.
    """

    header: ResponseHeader
    events: tuple[Event, ...]
    progress_notify: bool = False

    def __iter__(self) -> Any:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


_E_SET = _slot_setters(Event)
_W_SET = _slot_setters(WatchResponse)


def _event(pb: Any, _c: Any = Event, _s: Any = _E_SET, _kv: Any = _keyvalue) -> Event:
    # A watch converts one per change (a hot path): no dataclass __init__, no extra calls.
    o = _new(_c)
    _s[0](o, _EVENT_TYPES[pb.type])
    _s[1](o, _kv(pb.kv))
    _s[2](o, _kv(pb.prev_kv) if pb.HasField("prev_kv") else None)
    return o  # type: ignore[no-any-return]


def _events(pbs: Any) -> tuple[Event, ...]:
    """A watch response's events, converted."""
    return tuple(map(_event, pbs))


def _watch_response(
    header: ResponseHeader, events: tuple[Event, ...], _c: Any = WatchResponse, _s: Any = _W_SET
) -> WatchResponse:
    o = _new(_c)
    _s[0](o, header)
    _s[1](o, events)
    _s[2](o, False)
    return o  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class LeaseTimeToLive:
    """A lease's remaining ``ttl`` (seconds; -1 when the lease is gone), its ``granted_ttl``,
    and the ``keys`` bound to it when asked."""

    id: int
    ttl: int
    granted_ttl: int
    keys: tuple[bytes, ...]
    header: ResponseHeader

    @property
    def expired(self) -> bool:
        """True when the lease no longer exists."""
        return self.ttl == -1


@dataclass(frozen=True, slots=True)
class LeaseKeepAliveResponse:
    """A refreshed lease's new ``ttl`` (0 or less: the lease is gone)."""

    id: int
    ttl: int
    header: ResponseHeader
