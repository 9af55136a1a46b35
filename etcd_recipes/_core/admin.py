"""Typed, immutable results of the auth, cluster and maintenance APIs, and their request
helpers (pure code). No protobuf object leaks out: each result is converted here."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidArgumentError
from .._pb import auth_pb2, rpc_pb2
from .keys import KeyLike, prefix_range_end, to_bytes, to_key
from .types import ResponseHeader

# --------------------------------------------------------------------------- secrets


class Secret:
    """A password held so that it never shows in a repr, a log line or a traceback's locals
    printed with ``repr``. ``reveal()`` gives the value to the one place that sends it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value (only for building the request that needs it)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def check_name(value: object, what: str) -> str:
    """A user or role name: a non-empty ``str`` (etcd refuses empty names)."""
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{what} must be a non-empty str, not {value!r}")
    return value


def check_password(value: object, what: str = "password") -> str:
    """A password: a ``str``; the message never includes the value."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")
    return value


def check_member_id(value: object) -> int:
    """A member id: a positive int (as ``Member.id``)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidArgumentError(f"member id must be a positive int, not {value!r}")
    return value


def peer_url_list(urls: str | Sequence[str]) -> list[str]:
    """Peer URLs as a list (one URL, a comma-separated string, or a sequence)."""
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    cleaned = [u.strip() for u in items if isinstance(u, str) and u.strip()]
    if not cleaned or len(cleaned) != len(items):
        raise InvalidArgumentError(f"peer_urls must be one or more non-empty URLs, not {urls!r}")
    for url in cleaned:
        if not url.startswith(("http://", "https://", "unix://", "unixs://")):
            raise InvalidArgumentError(f"peer URL {url!r} needs a scheme such as http://")
    return cleaned


# --------------------------------------------------------------------------- auth


class PermissionType(enum.Enum):
    """What a role may do on a key range."""

    READ = 0
    WRITE = 1
    READWRITE = 2

    @classmethod
    def parse(cls, value: PermissionType | str) -> PermissionType:
        """A member of this enum, or its name in any case (``"readwrite"``)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        raise InvalidArgumentError(f"permission must be READ, WRITE or READWRITE, not {value!r}")


def permission_range(
    key: KeyLike, *, prefix: bool = False, range_end: KeyLike | None = None
) -> tuple[bytes, bytes]:
    """The ``(key, range_end)`` a permission covers: one key, a prefix, or ``[key, range_end)``.

    ``prefix=True`` with an empty key covers every key (etcd's ``\\0`` range end).
    """
    if prefix and range_end is not None:
        raise InvalidArgumentError("use only one of prefix= and range_end=")
    if prefix and to_bytes(key, "key") == b"":
        return b"\0", b"\0"
    raw = to_key(key)
    if prefix:
        return raw, prefix_range_end(raw)
    if range_end is not None:
        return raw, to_bytes(range_end, "range_end")
    return raw, b""


@dataclass(frozen=True, slots=True)
class Permission:
    """A role's permission on ``key`` (with ``range_end`` empty: that key alone; else the
    range ``[key, range_end)``)."""

    type: PermissionType
    key: bytes
    range_end: bytes

    @property
    def prefix(self) -> bool:
        """True when the range is exactly "every key starting with ``key``"."""
        if self.key == b"\0" and self.range_end == b"\0":
            return True
        return bool(self.range_end) and self.range_end == prefix_range_end(self.key)

    @classmethod
    def _from_pb(cls, pb: auth_pb2.Permission) -> Permission:
        return cls(PermissionType(pb.permType), pb.key, pb.range_end)


@dataclass(frozen=True, slots=True)
class User:
    """A user and the roles granted to it."""

    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Role:
    """A role and its permissions."""

    name: str
    permissions: tuple[Permission, ...]

    @classmethod
    def _from_pb(cls, name: str, pb: rpc_pb2.AuthRoleGetResponse) -> Role:
        return cls(name, tuple(Permission._from_pb(p) for p in pb.perm))


@dataclass(frozen=True, slots=True)
class AuthStatus:
    """Whether authentication is enabled. ``auth_revision`` counts changes to users, roles
    and permissions; it is None on etcd 3.4, which has no AuthStatus call."""

    enabled: bool
    auth_revision: int | None


# --------------------------------------------------------------------------- cluster


@dataclass(frozen=True, slots=True)
class Member:
    """A cluster member. ``name`` and ``client_urls`` are empty until the member has started
    (an added member that has not joined yet); ``is_learner`` marks a non-voting member."""

    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool

    @property
    def started(self) -> bool:
        """True once the member has joined and published its name."""
        return bool(self.name)

    def __repr__(self) -> str:
        learner = ", learner" if self.is_learner else ""
        return (
            f"Member(id={self.id:#x}, name={self.name!r}, peer_urls={list(self.peer_urls)}, "
            f"client_urls={list(self.client_urls)}{learner})"
        )

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.Member) -> Member:
        return cls(pb.ID, pb.name, tuple(pb.peerURLs), tuple(pb.clientURLs), pb.isLearner)


def _members(pbs: Any) -> tuple[Member, ...]:
    return tuple(Member._from_pb(m) for m in pbs)


@dataclass(frozen=True, slots=True)
class MemberListResponse:
    """The cluster's members (after the change, for add/remove/update/promote)."""

    header: ResponseHeader
    members: tuple[Member, ...]

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def get(self, member_id: int) -> Member | None:
        """The member with this id, or None."""
        return next((m for m in self.members if m.id == member_id), None)

    @classmethod
    def _from_pb(cls, pb: Any) -> MemberListResponse:
        return cls(ResponseHeader._from_pb(pb.header), _members(pb.members))


@dataclass(frozen=True, slots=True)
class MemberAddResponse:
    """The added ``member`` and the cluster's ``members`` including it (what the new member
    needs for its ``--initial-cluster``)."""

    header: ResponseHeader
    member: Member
    members: tuple[Member, ...]

    def initial_cluster(self, name: str) -> str:
        """The ``--initial-cluster`` value for the new member started as ``name``."""
        parts: list[str] = []
        for m in self.members:
            member_name = name if m.id == self.member.id else m.name
            parts.extend(f"{member_name}={url}" for url in m.peer_urls)
        return ",".join(parts)

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.MemberAddResponse) -> MemberAddResponse:
        return cls(
            ResponseHeader._from_pb(pb.header), Member._from_pb(pb.member), _members(pb.members)
        )


# --------------------------------------------------------------------------- maintenance


class AlarmType(enum.Enum):
    """An alarm a member can raise."""

    NONE = 0
    NOSPACE = 1
    CORRUPT = 2


@dataclass(frozen=True, slots=True)
class Alarm:
    """An alarm raised by a member."""

    member_id: int
    type: AlarmType

    def __repr__(self) -> str:
        return f"Alarm(member_id={self.member_id:#x}, type={self.type.name})"

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.AlarmMember) -> Alarm:
        return cls(pb.memberID, AlarmType(pb.alarm))


@dataclass(frozen=True, slots=True)
class StatusResponse:
    """One member's status: etcd ``version``, backend size (``db_size`` on disk,
    ``db_size_in_use`` after the last defragmentation), the ``leader`` it knows, its raft
    index and term, and the ``errors`` it reports (e.g. an active alarm)."""

    header: ResponseHeader
    version: str
    db_size: int
    db_size_in_use: int
    leader: int
    raft_index: int
    raft_term: int
    raft_applied_index: int
    errors: tuple[str, ...]
    is_learner: bool

    @property
    def member_id(self) -> int:
        """The id of the member that answered."""
        return self.header.member_id

    @property
    def is_leader(self) -> bool:
        """True if the member that answered is the leader."""
        return self.leader != 0 and self.leader == self.header.member_id

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.StatusResponse) -> StatusResponse:
        return cls(
            header=ResponseHeader._from_pb(pb.header),
            version=pb.version,
            db_size=pb.dbSize,
            db_size_in_use=pb.dbSizeInUse,
            leader=pb.leader,
            raft_index=pb.raftIndex,
            raft_term=pb.raftTerm,
            raft_applied_index=pb.raftAppliedIndex,
            errors=tuple(pb.errors),
            is_learner=pb.isLearner,
        )


@dataclass(frozen=True, slots=True)
class HashKVResponse:
    """A hash of the key-value store up to a revision (compare it between members: equal
    hashes at the same ``compact_revision`` mean equal data)."""

    header: ResponseHeader
    hash: int
    compact_revision: int

    @classmethod
    def _from_pb(cls, pb: rpc_pb2.HashKVResponse) -> HashKVResponse:
        return cls(ResponseHeader._from_pb(pb.header), pb.hash, pb.compact_revision)


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A saved snapshot: its ``size`` in bytes (the bolt database plus etcd's 32-byte
    SHA-256 trailer) and ``sha256``, the hex digest of the database that the trailer holds
    (verified while saving)."""

    size: int
    sha256: str
