"""The exceptions etcd-recipes raises. No foreign exception type (``grpc.RpcError`` included)
escapes the library: transport and server errors are mapped at one place
(``etcd_recipes._core.errors``) and re-raised ``from`` the original.

Every error says whether the request was *certainly not applied* (``outcome_unknown`` is
False) or may have been applied (``outcome_unknown`` is True: a write that timed out or whose
connection broke after it was sent may still commit -- etcd does not abort on leader change).

::

    EtcdError
    ├── ClientClosedError              the client was closed
    ├── InvalidArgumentError           bad input (also a ValueError); nothing was written
    │   ├── EmptyKeyError
    │   ├── RequestTooLargeError       over etcd's --max-request-bytes
    │   ├── TooManyOpsError            over etcd's --max-txn-ops
    │   ├── DuplicateKeyError          one key written twice in a txn
    │   └── LeaseTTLTooLargeError
    ├── EtcdConnectionError            the cluster could not be reached or cannot serve
    │   ├── ConnectionFailedError      no endpoint reachable (within dial_timeout)
    │   ├── NoLeaderError              the member has no leader (lost quorum)
    │   └── UnavailableError           member stopping, leader changed, not capable ...
    ├── EtcdTimeoutError               a deadline passed (also a TimeoutError)
    ├── RevisionError
    │   ├── CompactedError             the revision was compacted (.compact_revision)
    │   └── FutureRevisionError        the revision is newer than the store
    ├── LeaseError
    │   ├── LeaseNotFoundError         unknown or expired lease id
    │   ├── LeaseExistsError
    │   └── LeaseExpiredError          a kept-alive lease was lost
    ├── AuthError
    │   ├── AuthFailedError            wrong user name or password
    │   ├── PermissionDeniedError
    │   ├── InvalidAuthTokenError
    │   └── AuthNotEnabledError
    ├── ClusterError                   member / role / user management failures
    ├── NoSpaceError                   the NOSPACE alarm is raised (quota exceeded)
    ├── TooManyRequestsError
    ├── WatchError                     a watch was cancelled by the server
    │   └── WatchOverflowError         its consumer fell behind (.next_revision)
    ├── RecipeError                    base of the recipes' own errors (locks, elections ...)
    └── InternalError                  anything else etcd or gRPC reported
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthFailedError",
    "AuthNotEnabledError",
    "ClientClosedError",
    "ClusterError",
    "CompactedError",
    "ConnectionFailedError",
    "DuplicateKeyError",
    "EmptyKeyError",
    "EtcdConnectionError",
    "EtcdError",
    "EtcdTimeoutError",
    "FutureRevisionError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidAuthTokenError",
    "LeaseError",
    "LeaseExistsError",
    "LeaseExpiredError",
    "LeaseNotFoundError",
    "LeaseTTLTooLargeError",
    "NoLeaderError",
    "NoSpaceError",
    "PermissionDeniedError",
    "RecipeError",
    "RequestTooLargeError",
    "RevisionError",
    "TooManyOpsError",
    "TooManyRequestsError",
    "UnavailableError",
    "WatchError",
    "WatchOverflowError",
]


class EtcdError(Exception):
    """Base of every error etcd-recipes raises.

    ``outcome_unknown`` is True when a mutating request may have been applied although it
    failed (timeout or connection loss after sending); False when it certainly was not.
    ``code`` is the gRPC status name when the error came from gRPC (``"UNAVAILABLE"`` ...).
    """

    def __init__(
        self, message: str = "", *, outcome_unknown: bool = False, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.outcome_unknown = outcome_unknown
        self.code = code

    def __str__(self) -> str:
        text = self.message
        if self.outcome_unknown:
            text += " (the request may have been applied)"
        return text


class ClientClosedError(EtcdError):
    """The client (or the object used) was closed."""


class InvalidArgumentError(EtcdError, ValueError):
    """The request was refused as malformed; nothing was written."""


class EmptyKeyError(InvalidArgumentError):
    """A key was empty."""


class RequestTooLargeError(InvalidArgumentError):
    """The request exceeds the server's request size limit (--max-request-bytes)."""


class TooManyOpsError(InvalidArgumentError):
    """A transaction has more operations than the server allows (--max-txn-ops)."""


class DuplicateKeyError(InvalidArgumentError):
    """A transaction writes the same key twice."""


class LeaseTTLTooLargeError(InvalidArgumentError):
    """The requested lease TTL is larger than etcd accepts."""


class EtcdConnectionError(EtcdError):
    """The cluster could not be reached or cannot serve the request now."""


class ConnectionFailedError(EtcdConnectionError):
    """No endpoint could be reached."""


class NoLeaderError(EtcdConnectionError):
    """The member has no leader (quorum lost or election in progress)."""


class UnavailableError(EtcdConnectionError):
    """The member is stopping, the leader changed, or it cannot serve this request now."""


class EtcdTimeoutError(EtcdError, TimeoutError):
    """A deadline passed before the request completed."""


class RevisionError(EtcdError):
    """A requested revision is not available."""


class CompactedError(RevisionError):
    """The requested revision has been compacted; ``compact_revision`` is the oldest kept."""

    def __init__(
        self,
        message: str = "required revision has been compacted",
        *,
        compact_revision: int = 0,
        outcome_unknown: bool = False,
        code: str | None = None,
    ) -> None:
        super().__init__(message, outcome_unknown=outcome_unknown, code=code)
        self.compact_revision = compact_revision


class FutureRevisionError(RevisionError):
    """The requested revision is newer than the store's current revision."""


class LeaseError(EtcdError):
    """Base of lease errors."""


class LeaseNotFoundError(LeaseError):
    """The lease does not exist (never granted, revoked or expired)."""


class LeaseExistsError(LeaseError):
    """A lease with that id already exists."""


class LeaseExpiredError(LeaseError):
    """A lease that was being kept alive has been lost."""


class AuthError(EtcdError):
    """Base of authentication and authorization errors."""


class AuthFailedError(AuthError):
    """Wrong user name or password."""


class PermissionDeniedError(AuthError):
    """The user's roles do not permit this request; nothing was written."""


class InvalidAuthTokenError(AuthError):
    """The auth token is invalid or expired."""


class AuthNotEnabledError(AuthError):
    """Authentication is not enabled on the cluster."""


class ClusterError(EtcdError):
    """A cluster, user or role management request failed (member not found, exists ...)."""


class NoSpaceError(EtcdError):
    """The cluster raised the NOSPACE alarm: the backend quota is exhausted."""


class TooManyRequestsError(EtcdError):
    """The server is overloaded and refused the request."""


class WatchError(EtcdError):
    """The server cancelled a watch."""


class WatchOverflowError(WatchError):
    """A watch's consumer fell behind: more events waited than the watch's ``max_queue``, so
    the watch was cancelled. Nothing was dropped: every batch received before this error was
    delivered first. Watch again from ``next_revision`` to carry on."""

    def __init__(
        self,
        message: str = "the watch consumer fell behind",
        *,
        next_revision: int = 0,
        outcome_unknown: bool = False,
        code: str | None = None,
    ) -> None:
        super().__init__(message, outcome_unknown=outcome_unknown, code=code)
        self.next_revision = next_revision


class RecipeError(EtcdError):
    """Base of the errors raised by recipes (locks, elections, barriers ...)."""


class InternalError(EtcdError):
    """Any other error reported by etcd or gRPC."""
