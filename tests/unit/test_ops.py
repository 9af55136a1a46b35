"""Request building in ``_core/ops.py`` (pure, no etcd): the fast paths for default options
convert and validate exactly as the general ones."""

from __future__ import annotations

import pytest

from etcd_recipes import EmptyKeyError, InvalidArgumentError
from etcd_recipes._core.ops import put_request, range_request


@pytest.mark.parametrize("key", [b"/k", "/k", bytearray(b"/k"), memoryview(b"/k")])
def test_put_and_range_requests_accept_every_key_type(key: object) -> None:
    put = put_request(key, "v")  # type: ignore[arg-type]
    assert (put.key, put.value, put.lease, put.prev_kv) == (b"/k", b"v", 0, False)
    assert put_request(key, b"v") == put  # type: ignore[arg-type]
    get = range_request(key)  # type: ignore[arg-type]
    assert (get.key, get.range_end, get.limit, get.serializable) == (b"/k", b"", 0, False)


def test_empty_and_wrong_keys_and_values_are_refused_before_sending() -> None:
    for key in (b"", ""):
        with pytest.raises(EmptyKeyError):
            put_request(key, b"v")
        with pytest.raises(EmptyKeyError):
            range_request(key)
    with pytest.raises(InvalidArgumentError):
        put_request(1, b"v")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        put_request(b"/k", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        range_request(None)  # type: ignore[arg-type]
    assert put_request(b"/k", b"").value == b""


def test_options_still_take_the_general_path() -> None:
    put = put_request(b"/k", b"v", lease=7, prev_kv=True)
    assert (put.lease, put.prev_kv) == (7, True)
    get = range_request(b"/k", prefix=True, limit=3)
    assert (get.range_end, get.limit) == (b"/l", 3)
