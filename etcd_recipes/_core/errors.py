"""Maps gRPC status codes and etcd's error strings to our exception hierarchy (pure code).

etcd reports errors as a gRPC status code plus a fixed message (``rpctypes``); the code alone is
not enough (INVALID_ARGUMENT covers both "empty key" and "authentication failed").
"""

from __future__ import annotations

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
    ("user name is empty", exc.InvalidArgumentError),
    ("authentication is not enabled", exc.AuthNotEnabledError),
    ("no leader", exc.NoLeaderError),
    ("context deadline exceeded", exc.EtcdTimeoutError),
    ("request timed out", exc.EtcdTimeoutError),
    ("leader changed", exc.UnavailableError),
    ("member", exc.ClusterError),
    ("learner", exc.ClusterError),
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

# Transport-level failures where the request never reached a server.
_NOT_SENT = (
    "failed to connect to all addresses",
    "connection refused",
    "dns resolution failed",
    "name resolution",
    "no leader",
    "not capable",
    "server stopped",
    "not supported for learner",
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
    code: grpc.StatusCode | None = None
    details = ""
    # grpc.aio's AioRpcError is not a grpc.Call, but has the same two methods.
    if callable(getattr(error, "code", None)) and callable(getattr(error, "details", None)):
        code = error.code()
        details = error.details() or ""
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
