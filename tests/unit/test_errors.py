"""Error mapping and the failover verdicts (pure, no etcd)."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from etcd_recipes import (
    CompactedError,
    ConnectionFailedError,
    EmptyKeyError,
    EtcdError,
    EtcdTimeoutError,
    NoLeaderError,
    PermissionDeniedError,
    TooManyRequestsError,
    UnavailableError,
    WatchOverflowError,
)
from etcd_recipes._core.errors import (
    assess,
    from_status,
    map_rpc_error,
    most_telling,
    status_of,
)

U = grpc.StatusCode.UNAVAILABLE
REFUSED = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
    "Failed to connect to remote host: Connection refused"
)


def test_status_of_reads_aio_errors_which_are_not_grpc_calls() -> None:
    error = grpc.aio.AioRpcError(
        U, grpc.aio.Metadata(), grpc.aio.Metadata(), "etcdserver: no leader"
    )
    assert not isinstance(error, grpc.Call)
    assert status_of(error) == (U, "etcdserver: no leader")
    mapped = map_rpc_error(error, mutating=True)
    assert isinstance(mapped, NoLeaderError)
    assert mapped.code == "UNAVAILABLE"
    assert not mapped.outcome_unknown


def test_status_of_an_error_without_status() -> None:
    assert status_of(ValueError("boom")) == (None, "boom")


@pytest.mark.parametrize(
    ("code", "details", "cls", "unknown"),
    [
        (U, REFUSED, ConnectionFailedError, False),
        (U, "etcdserver: no leader", NoLeaderError, False),
        (U, "Stream removed (Socket closed)", UnavailableError, True),
        (U, "Stream removed (ping timeout)", UnavailableError, True),
        (U, "etcdserver: server stopped", UnavailableError, True),
        (U, "etcdserver: leader changed", UnavailableError, True),
        (U, "etcdserver: request timed out", EtcdTimeoutError, True),
        (U, "etcdserver: rpc not supported for learner", UnavailableError, False),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", EtcdTimeoutError, True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests", TooManyRequestsError, False),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided", EmptyKeyError, False),
        (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied", PermissionDeniedError, False),
    ],
)  # fmt: skip
def test_write_failures_say_whether_they_may_have_been_applied(
    code: grpc.StatusCode, details: str, cls: type[EtcdError], unknown: bool
) -> None:
    error = from_status(code, details, mutating=True, what="put")
    assert type(error) is cls
    assert error.outcome_unknown is unknown
    assert str(error).startswith("put: ")
    assert ("may have been applied" in str(error)) is unknown
    # A read is never "maybe applied".
    assert not from_status(code, details, mutating=False).outcome_unknown


@pytest.mark.parametrize(
    ("details", "member_failed"),
    [
        (REFUSED, True),
        ("Stream removed (Socket closed)", True),
        ("Stream removed (ping timeout)", True),
        ("Socket closed (GOAWAY received; Error code: 11; Debug Text: too_many_pings)", True),
        ("etcdserver: no leader", True),
        ("etcdserver: server stopped", True),
        ("etcdserver: rpc not supported for learner", True),
        ("etcdserver: leader changed", False),
        ("etcdserver: request timed out", False),
    ],
)
def test_unavailable_verdicts(details: str, member_failed: bool) -> None:
    read = assess(U, details, mutating=False)
    assert read.retry and read.trouble
    assert read.member_failed is member_failed
    write = assess(U, details, mutating=True)
    assert write.member_failed is member_failed
    # A write is retried only when it certainly was not applied.
    assert write.retry is (not write.error.outcome_unknown)


def test_no_leader_write_is_retried_and_was_not_applied() -> None:
    verdict = assess(U, "etcdserver: no leader", mutating=True)
    assert verdict.retry and verdict.member_failed
    assert not verdict.error.outcome_unknown


def test_deadline_of_a_capped_attempt_means_try_elsewhere() -> None:
    capped = assess(
        grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", mutating=False, capped=True
    )
    assert capped.retry and capped.suspect and capped.trouble
    assert not capped.member_failed  # the caller decides, knowing what succeeded meanwhile
    final = assess(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", mutating=False)
    assert not final.retry and final.suspect and final.trouble
    write = assess(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", mutating=True)
    assert not write.retry and write.error.outcome_unknown


def test_server_refusals_are_neither_retried_nor_trouble() -> None:
    for code, details in [
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided"),
        (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied"),
        (grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"),
    ]:
        verdict = assess(code, details, mutating=False)
        assert not verdict.retry and not verdict.trouble and not verdict.member_failed


def test_too_many_requests_is_retried_even_for_writes() -> None:
    verdict = assess(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests", mutating=True
    )
    assert verdict.retry and not verdict.trouble


def test_compacted_error_carries_its_revision() -> None:
    error = CompactedError("gone", compact_revision=42)
    assert error.compact_revision == 42
    assert not error.outcome_unknown


def test_watch_overflow_error_says_where_to_resume() -> None:
    error = WatchOverflowError("behind", next_revision=17)
    assert error.next_revision == 17
    assert str(error) == "behind"


def test_the_most_telling_error_is_reported() -> None:
    no_leader = NoLeaderError("no leader")
    refused = ConnectionFailedError("failed to connect")
    timeout = EtcdTimeoutError("deadline")
    assert most_telling(no_leader, refused) is no_leader
    assert most_telling(refused, no_leader) is no_leader
    assert most_telling(timeout, refused) is refused
    later = NoLeaderError("again")
    assert most_telling(no_leader, later) is later


@pytest.mark.parametrize(
    ("details", "gone"),
    [
        (REFUSED, True),
        ("Stream removed (recvmsg:Connection reset by peer (104))", True),
        ("Stream removed (Socket closed)", True),
        ("etcdserver: server stopped", True),
        ("Stream removed (ping timeout)", False),
        ("Socket closed (GOAWAY received; Error code: 11; Debug Text: too_many_pings)", False),
        ("etcdserver: no leader", False),
    ],
)
def test_gone_tells_a_dead_member_from_an_unreachable_one(details: str, gone: bool) -> None:
    assert assess(U, details, mutating=False).gone is gone
    assert not assess(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", mutating=False).gone


def test_a_capped_attempt_refused_by_the_server_is_not_retried() -> None:
    verdict = assess(
        grpc.StatusCode.INVALID_ARGUMENT,
        "etcdserver: authentication failed, invalid user ID or password",
        mutating=False,
        capped=True,
    )
    assert not verdict.retry and not verdict.trouble
