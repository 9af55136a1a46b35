"""Maps gRPC status codes and etcd's error strings to our exception hierarchy, and decides what
a failure means for failover and retries (pure code).

etcd reports errors as a gRPC status code plus a fixed message (``rpctypes``); the code alone is
not enough (INVALID_ARGUMENT covers both "empty key" and "authentication failed"). Messages
that come from etcd itself start with ``etcdserver:``; an UNAVAILABLE without that prefix comes
from the transport (connection refused, socket closed, ping timeout, GOAWAY).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from .. import _exceptions as exc

# Substrings of etcd's error descriptions, most specific first.
_BY_MESSAGE: tuple[tuple[str, type[exc.EtcdError]], ...] = (
    ("key is not provided", exc.EmptyKeyError),
    ("empty key", exc.EmptyKeyError),
    ("request is too large", exc.RequestTooLargeError),
    ("larger than max", exc.RequestTooLargeError),
    ("too many operations in txn request", exc.TooManyOpsError),
    ("duplicate key given in txn request", exc.DuplicateKeyError),
    ("required revision has been compacted", exc.CompactedError),
    ("required revision is a future revision", exc.FutureRevisionError),
    ("requested lease not found", exc.LeaseNotFoundError),
    ("lease already exists", exc.LeaseExistsError),
    ("too large lease TTL", exc.LeaseTTLTooLargeError),
    ("database space exceeded", exc.NoSpaceError),
    ("too many requests", exc.TooManyRequestsError),
    ("authentication failed", exc.AuthFailedError),
    ("permission denied", exc.PermissionDeniedError),
    ("invalid auth token", exc.InvalidAuthTokenError),
    ("revision of auth store is old", exc.InvalidAuthTokenError),
    ("user name is empty", exc.InvalidArgumentError),
    ("authentication is not enabled", exc.AuthNotEnabledError),
    ("no leader", exc.NoLeaderError),
    ("context deadline exceeded", exc.EtcdTimeoutError),
    ("request timed out", exc.EtcdTimeoutError),
    ("leader changed", exc.UnavailableError),
    ("not supported for learner", exc.UnavailableError),
    ("member", exc.ClusterError),
    ("learner", exc.ClusterError),
    ("peer urls already exists", exc.ClusterError),
    ("invalid auth management", exc.ClusterError),
    ("user name", exc.ClusterError),
    ("role", exc.ClusterError),
    ("root user", exc.ClusterError),
    ("leader transferee", exc.ClusterError),
    ("not leader", exc.UnavailableError),
)

_BY_CODE: dict[grpc.StatusCode, type[exc.EtcdError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: exc.InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: exc.EtcdTimeoutError,
    grpc.StatusCode.UNAVAILABLE: exc.UnavailableError,
    grpc.StatusCode.PERMISSION_DENIED: exc.PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: exc.InvalidAuthTokenError,
    grpc.StatusCode.NOT_FOUND: exc.EtcdError,
    grpc.StatusCode.OUT_OF_RANGE: exc.RevisionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: exc.TooManyRequestsError,
    grpc.StatusCode.CANCELLED: exc.EtcdConnectionError,
}

# Failures where the request certainly never reached etcd's raft log: the transport could not
# connect (the first four), or etcd refused it in its gRPC interceptor before handling it.
# ("server stopped" is not here: a member that stops while a proposal waits answers it too.)
_NOT_SENT = (
    "failed to connect to all addresses",
    "connection refused",
    "dns resolution failed",
    "name resolution",
    "no leader",
    "not capable",
    "not supported for learner",
)

# etcd answers after which the member should be avoided for a while.
_MEMBER_FAILED = ("no leader", "server stopped", "not capable", "not supported for learner")

# Failures that mean the member's process is gone or stopping (as opposed to unreachable from
# here, which a ping timeout or a deadline may only mean).
_GONE = (
    "connection refused",
    "failed to connect to remote host",
    "connection reset",
    "socket closed",
    "goaway",
    "server stopped",
)

# Server answers that prove the request was considered and refused (never applied).
_REFUSED_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.UNIMPLEMENTED,
}


def classify(code: grpc.StatusCode | None, details: str) -> type[exc.EtcdError]:
    """The exception class for a gRPC status code and etcd error description."""
    lowered = details.lower()
    for needle, cls in _BY_MESSAGE:
        if needle in lowered:
            return cls
    if code == grpc.StatusCode.UNAVAILABLE and any(n in lowered for n in _NOT_SENT[:4]):
        return exc.ConnectionFailedError
    if code is None:
        return exc.InternalError
    return _BY_CODE.get(code, exc.InternalError)


def is_not_sent(code: grpc.StatusCode | None, details: str) -> bool:
    """True when the request certainly did not reach (or was refused before) etcd's raft log."""
    if code in _REFUSED_CODES:
        return True
    lowered = details.lower()
    return code == grpc.StatusCode.UNAVAILABLE and any(n in lowered for n in _NOT_SENT)


def map_rpc_error(error: grpc.RpcError, *, mutating: bool, what: str = "") -> exc.EtcdError:
    """Our exception for a failed gRPC call; the caller raises it ``from error``.

    ``mutating`` marks requests that change state: for those a failure whose fate is unknown
    (deadline, broken connection after sending) is flagged ``outcome_unknown``.
    """
    code, details = status_of(error)
    return from_status(code, details, mutating=mutating, what=what)


def from_status(
    code: grpc.StatusCode | None, details: str, *, mutating: bool, what: str = ""
) -> exc.EtcdError:
    """Our exception for a gRPC status code and description."""
    cls = classify(code, details)
    unknown = mutating and not is_not_sent(code, details)
    text = details.removeprefix("etcdserver: ") or (code.name if code else "unknown error")
    if what:
        text = f"{what}: {text}"
    return cls(text, outcome_unknown=unknown, code=code.name if code else None)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a failed call means.

    ``error``: our exception. ``retry``: sending the same request again is safe and may
    succeed (any connection-type failure of a call that does not write; for a write, only when it
    certainly was not applied). ``member_failed``: the member is unreachable, stopping, without a
    leader or a learner: use another. ``suspect``: the attempt's deadline passed; the member
    may be hung (the caller decides, knowing whether anything succeeded there meanwhile).
    ``trouble``: the cluster may be unreachable (connection errors and deadlines), which makes
    the connection state SUSPENDED unless something succeeded since the attempt began.
    ``gone``: the member's process is gone or stopping (refused, reset, closed, GOAWAY, "server
    stopped"), not merely unreachable from here: if it led the cluster, the others no longer
    have a leader (even if some do not know yet).
    """

    error: exc.EtcdError
    retry: bool
    member_failed: bool
    suspect: bool
    trouble: bool
    gone: bool = False


def assess(
    code: grpc.StatusCode | None,
    details: str,
    *,
    mutating: bool,
    what: str = "",
    capped: bool = False,
) -> Verdict:
    """Judge a failed call. ``capped``: the call ran with a per-attempt deadline shorter than
    the caller's own (only calls that do not write are capped), so DEADLINE_EXCEEDED means
    "try elsewhere" rather than "out of time"."""
    error = from_status(code, details, mutating=mutating, what=what)
    lowered = details.lower()
    transport = code == grpc.StatusCode.UNAVAILABLE and not lowered.startswith("etcdserver:")
    member_failed = transport or (
        code == grpc.StatusCode.UNAVAILABLE and any(n in lowered for n in _MEMBER_FAILED)
    )
    deadline = code == grpc.StatusCode.DEADLINE_EXCEEDED
    suspect = deadline
    # Any UNAVAILABLE (etcd's "request timed out" included) may succeed when sent again.
    transient = code == grpc.StatusCode.UNAVAILABLE or isinstance(
        error, (exc.EtcdConnectionError, exc.TooManyRequestsError)
    )
    # A write is sent again only if it certainly was not applied; a read whenever it may help.
    retry = (
        (transient and not error.outcome_unknown)
        if mutating
        else (transient or (suspect and capped))
    )
    return Verdict(
        error=error,
        retry=retry,
        member_failed=member_failed,
        suspect=suspect,
        trouble=deadline
        or code == grpc.StatusCode.UNAVAILABLE
        or isinstance(error, exc.EtcdConnectionError),
        gone=code == grpc.StatusCode.UNAVAILABLE
        and any(n in lowered for n in _GONE)
        and "too_many_pings" not in lowered,
    )


def status_of(error: BaseException) -> tuple[grpc.StatusCode | None, str]:
    """The gRPC status code and details of an ``RpcError`` (None and its text when it has none).

    Duck-typed: ``grpc.aio.AioRpcError`` has ``code()``/``details()`` but is not a ``grpc.Call``.
    """
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    if callable(code_of) and callable(details_of):
        code = code_of()
        if isinstance(code, grpc.StatusCode):
            return code, str(details_of() or "")
    return None, str(error)


# How much an error says about why a call could not be served, most telling first.
_RANKS: tuple[type[exc.EtcdError], ...] = (
    exc.NoLeaderError,
    exc.UnavailableError,
    exc.ConnectionFailedError,
    exc.EtcdConnectionError,
)


def most_telling(first: exc.EtcdError, second: exc.EtcdError) -> exc.EtcdError:
    """Of two errors met while retrying one call, the one to report: "no leader" says more
    than "unavailable", which says more than "could not connect" or a deadline; on a tie the
    later (``second``)."""

    def rank(error: exc.EtcdError) -> int:
        for index, cls in enumerate(_RANKS):
            if isinstance(error, cls):
                return index
        return len(_RANKS)

    return first if rank(first) < rank(second) else second
