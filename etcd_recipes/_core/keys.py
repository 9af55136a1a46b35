"""Key and value helpers (pure code)."""

from __future__ import annotations

from .._exceptions import EmptyKeyError, InvalidArgumentError

KeyLike = str | bytes
"""A key or value: ``str`` is encoded as UTF-8, ``bytes`` are used as they are."""


def to_bytes(value: KeyLike, what: str = "value") -> bytes:
    """``value`` as bytes (``str`` is UTF-8 encoded)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise InvalidArgumentError(f"{what} must be str or bytes, not {type(value).__name__}")


def to_key(key: KeyLike) -> bytes:
    """``key`` as bytes; an empty key is refused before anything is sent."""
    raw = to_bytes(key, "key")
    if not raw:
        raise EmptyKeyError("key must not be empty")
    return raw


def prefix_range_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with ``prefix`` (etcd's GetPrefixRangeEnd).

    The last byte below 0xff is incremented and the rest dropped; an all-0xff (or empty) prefix
    yields ``b"\\0"``, which etcd reads as "to the end of the keyspace".
    """
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def range_end_for(
    key: bytes, *, prefix: bool, range_end: KeyLike | None, from_key: bool = False
) -> bytes:
    """The wire ``range_end`` for the options given (empty means "just this key")."""
    given = sum((prefix, range_end is not None, from_key))
    if given > 1:
        raise InvalidArgumentError("use only one of prefix=, range_end= and from_key=")
    if prefix:
        return prefix_range_end(key)
    if from_key:
        return b"\0"
    if range_end is not None:
        return to_bytes(range_end, "range_end")
    return b""
