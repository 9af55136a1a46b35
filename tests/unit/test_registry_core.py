"""Service registry logic without etcd: input checks, the JSON value, diffing, selection."""

from __future__ import annotations

import json
import math
import time
from collections import Counter

import pytest

from etcd_recipes import (
    DownInstancePolicy,
    InvalidArgumentError,
    InvalidInstanceIdError,
    InvalidMetadataError,
    InvalidRegistrationError,
    InvalidServiceNameError,
    NoInstanceError,
    RecipeError,
    RegistryError,
    ServiceEventType,
    ServiceInstance,
)
from etcd_recipes._core.registry import (
    MAX_NAME_BYTES,
    InstanceSelector,
    apply_change,
    check_address,
    check_instance_id,
    check_metadata,
    check_namespace,
    check_service,
    check_strategy,
    decode_instance,
    diff_tables,
    encode_value,
    instance_key,
    service_names,
    split_key,
)


def inst(instance_id: str, *, rev: int = 1, lease: int = 7, zone: str = "a") -> ServiceInstance:
    return ServiceInstance("api", instance_id, "10.0.0.1", 80, {"zone": zone}, 1.5, lease, 1, rev)


# ------------------------------------------------------------------ input checks


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", InvalidServiceNameError),
        ("a/b", InvalidServiceNameError),
        ("a\0b", InvalidServiceNameError),
        ("x" * (MAX_NAME_BYTES + 1), InvalidServiceNameError),
        ("é" * (MAX_NAME_BYTES // 2 + 1), InvalidServiceNameError),  # counted in UTF-8 bytes
        (b"api", InvalidServiceNameError),
        (None, InvalidServiceNameError),
    ],
)
def test_bad_service_names_are_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        check_service(value)
    assert isinstance(info.value, InvalidArgumentError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, RegistryError) and isinstance(info.value, RecipeError)
    assert "service name" in str(info.value)


@pytest.mark.parametrize("value", ["", "i/d", "i\0d", "x" * (MAX_NAME_BYTES + 1), 12])
def test_bad_instance_ids_are_refused(value: object) -> None:
    with pytest.raises(InvalidInstanceIdError, match="instance id"):
        check_instance_id(value)


def test_good_names_pass_unchanged() -> None:
    assert check_service("api") == "api"
    assert check_service("x" * MAX_NAME_BYTES) == "x" * MAX_NAME_BYTES
    assert check_instance_id("host-1:8080") == "host-1:8080"
    assert check_namespace("/services") == "/services/"
    assert check_namespace("/services/") == "/services/"
    for bad in ("", "a\0", None):
        with pytest.raises(InvalidRegistrationError):
            check_namespace(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "metadata",
    [
        {"when": object()},
        {"nan": math.nan},
        {1: "int key"},
        ["not", "a", "mapping"],
        {"nested": {"set": {1, 2}}},
    ],
)
def test_metadata_must_be_json(metadata: object) -> None:
    with pytest.raises(InvalidMetadataError):
        check_metadata(metadata)


def test_metadata_is_copied() -> None:
    source = {"zone": "a", "weights": [1, 2], "nested": {"x": None}}
    copy = check_metadata(source)
    assert copy == source and copy is not source
    assert check_metadata(None) == {}


@pytest.mark.parametrize(
    ("address", "port"), [("", 80), (None, 80), ("h", 0), ("h", 65536), ("h", True), ("h", "80")]
)
def test_bad_address_or_port(address: object, port: object) -> None:
    with pytest.raises(InvalidRegistrationError):
        check_address(address, port)


# ------------------------------------------------------------------ keys and values


def test_value_round_trip_and_key_layout() -> None:
    value = encode_value("10.0.0.5", 8080, {"zone": "a"}, 12.5)
    assert json.loads(value) == {
        "address": "10.0.0.5",
        "port": 8080,
        "metadata": {"zone": "a"},
        "registered_at": 12.5,
    }
    got = decode_instance("api", "i1", value, lease=9, create_revision=3, mod_revision=4)
    assert got == ServiceInstance("api", "i1", "10.0.0.5", 8080, {"zone": "a"}, 12.5, 9, 3, 4)
    assert got is not None and got.endpoint == "10.0.0.5:8080"
    with pytest.raises(TypeError):
        got.metadata["zone"] = "b"  # type: ignore[index]
    assert instance_key("/services/", "api", "i1") == "/services/api/i1"
    no_port = decode_instance("api", "i", encode_value("unix:/s", None, {}, 0.0))
    assert no_port is not None and no_port.endpoint == "unix:/s"


@pytest.mark.parametrize(
    "value",
    [b"", b"not json", b"[1]", b'{"port": 1}', b'{"address": "a", "port": "80"}', b"\xff"],
)
def test_foreign_values_decode_to_none(value: bytes) -> None:
    assert decode_instance("api", "i", value) is None


def test_split_key_and_service_names() -> None:
    prefix = b"/s/api/"
    assert split_key(prefix, b"/s/api/i1") == "i1"
    for other in (b"/s/api/", b"/s/api/a/b", b"/s/api2/x", b"/s/apix", b"/s/api/\xff"):
        assert split_key(prefix, other) is None
    keys = [b"/s/api/1", b"/s/api/2", b"/s/db/1", b"/s/junk", b"/s/x/y/z", b"/s//i"]
    assert service_names(b"/s/", keys) == ["api", "db"]


# ------------------------------------------------------------------ diffing


def test_apply_change_events() -> None:
    table: dict[str, ServiceInstance] = {}
    added = apply_change(table, "a", inst("a"))
    assert added is not None and added.type is ServiceEventType.ADDED
    assert apply_change(table, "a", inst("a", rev=2)) is None  # same content: a retried put
    assert table["a"].mod_revision == 2
    updated = apply_change(table, "a", inst("a", rev=3, zone="b"))
    assert updated is not None and updated.type is ServiceEventType.UPDATED
    assert updated.previous is not None and updated.previous.metadata["zone"] == "a"
    relet = apply_change(table, "a", inst("a", rev=4, lease=8, zone="b"))
    assert relet is not None and relet.type is ServiceEventType.UPDATED
    removed = apply_change(table, "a", None)
    assert removed is not None and removed.type is ServiceEventType.REMOVED
    assert removed.instance.mod_revision == 4 and table == {}
    assert apply_change(table, "a", None) is None


def test_diff_tables_orders_removed_updated_added() -> None:
    old = {"a": inst("a"), "b": inst("b"), "c": inst("c")}
    new = {"b": inst("b", rev=5), "c": inst("c", zone="z"), "d": inst("d")}
    events = [(e.type, e.instance.id) for e in diff_tables(old, new)]
    assert events == [
        (ServiceEventType.REMOVED, "a"),
        (ServiceEventType.UPDATED, "c"),
        (ServiceEventType.ADDED, "d"),
    ]
    assert diff_tables(new, new) == []


# ------------------------------------------------------------------ selection


def selector(ids: str, strategy: object = "round_robin") -> InstanceSelector:
    chooser = InstanceSelector(check_strategy(strategy))
    chooser.publish({i: inst(i) for i in ids})
    return chooser


def test_round_robin_cycles_through_every_instance() -> None:
    chooser = selector("abc")
    assert [chooser.choose(0.0).id for _ in range(6)] == list("abcabc")


def test_random_covers_all() -> None:
    chooser = selector("abcd", "random")
    assert set(Counter(chooser.choose(0.0).id for _ in range(400))) == set("abcd")


def test_sticky_keeps_one_until_it_goes() -> None:
    chooser = selector("abc", "sticky")
    first = chooser.choose(0.0).id
    assert {chooser.choose(0.0).id for _ in range(10)} == {first}
    chooser.policy.mark_down(first, 0.0, 5.0)
    second = chooser.choose(1.0).id
    assert second != first and {chooser.choose(1.0).id for _ in range(10)} == {second}
    chooser.publish({i: inst(i) for i in "abc" if i != second})
    assert chooser.choose(2.0).id not in (second, first)


def test_callable_strategy_and_override() -> None:
    chooser = selector("abc")
    assert chooser.choose(0.0, lambda items: items[-1]).id == "c"
    assert chooser.choose(0.0, "sticky").id in "abc"
    with pytest.raises(InvalidArgumentError):
        chooser.choose(0.0, lambda items: "c")  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidArgumentError):
        check_strategy("fastest")


def test_down_instances_are_skipped_until_their_time_passes() -> None:
    chooser = selector("abc")
    chooser.policy.mark_down("b", now=10.0, seconds=5.0)
    assert {chooser.choose(11.0).id for _ in range(6)} == {"a", "c"}
    assert {chooser.choose(15.0).id for _ in range(6)} == {"a", "b", "c"}
    chooser.policy.mark_down("a", 20.0)  # the policy's default: 30 s
    chooser.policy.mark_down("b", 20.0)
    chooser.policy.mark_down("c", 20.0)
    with pytest.raises(NoInstanceError, match="3 registered, 3 marked down"):
        chooser.choose(21.0)
    chooser.policy.mark_up("c")
    assert chooser.choose(21.0).id == "c"
    with pytest.raises(NoInstanceError):
        selector("").choose(0.0)


def test_error_threshold_within_the_window() -> None:
    policy = DownInstancePolicy(seconds=10.0, threshold=3)
    assert not policy.note_error("a", 0.0)
    assert not policy.note_error("a", 1.0)
    assert not policy.note_error("a", 20.0)  # the first two are outside the window now
    assert not policy.note_error("a", 21.0)
    assert policy.note_error("a", 22.0)
    assert policy.is_down("a", 31.9) and not policy.is_down("a", 32.0)
    for bad in ({"seconds": 0}, {"seconds": math.inf}, {"threshold": 0}):
        with pytest.raises(InvalidArgumentError):
            DownInstancePolicy(**bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        policy.mark_down("a", 0.0, -1.0)


def test_choose_is_cheap_with_many_instances() -> None:
    chooser = InstanceSelector()
    chooser.publish({f"i{n}": inst(f"i{n}") for n in range(10_000)})
    chooser.policy.mark_down("i5", 0.0, 1e9)
    chooser.choose(1.0)
    rounds = 20_000
    start = time.perf_counter()
    for _ in range(rounds):
        chooser.choose(1.0)
    per_call = (time.perf_counter() - start) / rounds
    assert per_call < 20e-6, f"choose() took {per_call * 1e6:.1f} us"  # target 5 us, CI slack
