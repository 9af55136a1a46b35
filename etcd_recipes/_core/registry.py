"""Service registry logic without I/O: input checks, the JSON value, selection, diffing.

Keys are ``<namespace><service>/<instance id>``; the value is a JSON object::

    {"address": "10.0.0.5", "port": 8080, "metadata": {"zone": "a"}, "registered_at": 1732451234.5}

``registered_at`` is the wall-clock time (Unix seconds) of the latest (re-)registration.
The asyncio and sync registries (``_async/recipes/registry*.py``) only add etcd calls to this.
"""

from __future__ import annotations

import enum
import itertools
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from .._exceptions import InvalidArgumentError, RecipeError
from .types import KeyValue

MAX_NAME_BYTES = 255
"""Longest service name or instance id accepted, in UTF-8 bytes."""


class RegistryError(RecipeError):
    """Base of the service registry's errors."""


class InvalidRegistrationError(RegistryError, InvalidArgumentError):
    """A registration or lookup was refused before anything was sent (bad address, port ...)."""


class InvalidServiceNameError(InvalidRegistrationError):
    """A service name is empty, too long, or contains ``/`` or NUL."""


class InvalidInstanceIdError(InvalidRegistrationError):
    """An instance id is empty, too long, or contains ``/`` or NUL."""


class InvalidMetadataError(InvalidRegistrationError):
    """Metadata is not a JSON-serialisable mapping with ``str`` keys."""


class RegistrationLostError(RegistryError):
    """The registration is not in etcd now (its lease was lost, or its key was deleted or taken
    over); a lost lease is re-registered in the background."""


class NoInstanceError(RegistryError, LookupError):
    """``choose()`` found no instance that is registered and not marked down."""


def check_namespace(namespace: str) -> str:
    """The namespace with a trailing ``/``; refuses empty names and NUL."""
    if not isinstance(namespace, str) or not namespace or "\0" in namespace:
        raise InvalidRegistrationError(
            f"namespace must be a non-empty str without NUL: {namespace!r}"
        )
    return namespace if namespace.endswith("/") else namespace + "/"


def _check_name(value: object, what: str, error: type[InvalidRegistrationError]) -> str:
    if not isinstance(value, str):
        raise error(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise error(f"{what} must not be empty")
    if "/" in value or "\0" in value:
        raise error(f"{what} must not contain '/' or NUL: {value!r}")
    if len(value.encode()) > MAX_NAME_BYTES:
        raise error(f"{what} is longer than {MAX_NAME_BYTES} UTF-8 bytes: {value[:40]!r}...")
    return value


def check_service(service: object) -> str:
    """``service`` if it is a valid service name, else InvalidServiceNameError."""
    return _check_name(service, "service name", InvalidServiceNameError)


def check_instance_id(instance_id: object) -> str:
    """``instance_id`` if it is a valid instance id, else InvalidInstanceIdError."""
    return _check_name(instance_id, "instance id", InvalidInstanceIdError)


def check_address(address: object, port: object) -> tuple[str, int | None]:
    """A non-empty address without NUL, and a port in 1..65535 or None."""
    if not isinstance(address, str) or not address or "\0" in address:
        raise InvalidRegistrationError(f"address must be a non-empty str: {address!r}")
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
    ):
        raise InvalidRegistrationError(f"port must be an int in 1..65535 or None: {port!r}")
    return address, port


def check_metadata(metadata: object) -> dict[str, Any]:
    """A JSON-serialisable copy of ``metadata`` (a mapping with str keys; None means {})."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise InvalidMetadataError(f"metadata must be a mapping with str keys: {metadata!r}")
    copy = dict(metadata)
    try:
        json.dumps(copy, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidMetadataError(f"metadata is not JSON-serialisable: {error}") from None
    return copy


def service_prefix(namespace: str, service: str) -> str:
    """``<namespace><service>/``: every instance key of a service starts with it."""
    return f"{namespace}{service}/"


def instance_key(namespace: str, service: str, instance_id: str) -> str:
    """``<namespace><service>/<instance id>``."""
    return f"{namespace}{service}/{instance_id}"


def encode_value(
    address: str, port: int | None, metadata: Mapping[str, Any], registered_at: float
) -> bytes:
    """The JSON value stored at an instance key."""
    body = {
        "address": address,
        "port": port,
        "metadata": dict(metadata),
        "registered_at": registered_at,
    }
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True, eq=True)
class ServiceInstance:
    """One registered instance as read from etcd (immutable).

    ``metadata`` is a read-only mapping. ``lease`` is the registration's lease id;
    ``create_revision`` / ``mod_revision`` are the key's revisions (an ``update()`` keeps the
    create revision; a re-registration after a lost lease makes a new one).
    """

    service: str
    id: str
    address: str
    port: int | None
    metadata: Mapping[str, Any]
    registered_at: float
    lease: int = 0
    create_revision: int = 0
    mod_revision: int = 0

    def __hash__(self) -> int:
        return hash((self.service, self.id, self.mod_revision))

    @property
    def endpoint(self) -> str:
        """``address:port`` (or just the address when there is no port)."""
        return self.address if self.port is None else f"{self.address}:{self.port}"

    def same_registration(self, other: ServiceInstance) -> bool:
        """True when ``other`` has the same lease and content (revisions may differ)."""
        return (
            self.lease == other.lease
            and self.address == other.address
            and self.port == other.port
            and self.registered_at == other.registered_at
            and self.metadata == other.metadata
        )


def decode_instance(
    service: str,
    instance_id: str,
    value: bytes,
    *,
    lease: int = 0,
    create_revision: int = 0,
    mod_revision: int = 0,
) -> ServiceInstance | None:
    """Parse a stored value; None when it is not a registry value (foreign or corrupt data)."""
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    address, port = body.get("address"), body.get("port")
    metadata, registered_at = body.get("metadata", {}), body.get("registered_at", 0.0)
    if not isinstance(address, str) or not isinstance(metadata, dict):
        return None
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
        return None
    if not isinstance(registered_at, (int, float)) or isinstance(registered_at, bool):
        return None
    return ServiceInstance(
        service,
        instance_id,
        address,
        port,
        MappingProxyType(metadata),
        float(registered_at),
        lease,
        create_revision,
        mod_revision,
    )


def instance_from_kv(service: str, prefix: bytes, kv: KeyValue) -> ServiceInstance | None:
    """The instance stored in ``kv`` under a service ``prefix``; None for any other key/value."""
    instance_id = split_key(prefix, kv.key)
    if instance_id is None:
        return None
    return decode_instance(
        service,
        instance_id,
        kv.value,
        lease=kv.lease,
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
    )


def split_key(prefix: bytes, key: bytes) -> str | None:
    """The instance id of ``key`` under a service ``prefix``; None for any other key."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    if not rest or b"/" in rest or b"\0" in rest:
        return None
    try:
        return rest.decode()
    except UnicodeDecodeError:
        return None


def service_names(namespace: bytes, keys: Sequence[bytes]) -> list[str]:
    """The sorted distinct service names of instance keys under ``namespace``."""
    names = set()
    for key in keys:
        service, sep, rest = key[len(namespace) :].partition(b"/")
        if key.startswith(namespace) and service and sep and rest and b"/" not in rest:
            try:
                names.add(service.decode())
            except UnicodeDecodeError:
                continue
    return sorted(names)


class RegistrationState(enum.Enum):
    """What a registration's listeners are told."""

    REGISTERED = "registered"  # written (the first time, or again after a loss)
    LOST = "lost"  # the lease was lost: the instance is not (or soon not) in etcd
    DEREGISTERED = "deregistered"  # removed on purpose; final


# ---------------------------------------------------------------- cache changes


class ServiceEventType(enum.Enum):
    """What happened to an instance in a cache."""

    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """A change seen by a cache: the ``instance`` now (for REMOVED: as last seen) and the
    ``previous`` version for UPDATED."""

    type: ServiceEventType
    instance: ServiceInstance
    previous: ServiceInstance | None = None


def apply_change(
    table: dict[str, ServiceInstance], instance_id: str, new: ServiceInstance | None
) -> ServiceEvent | None:
    """Put ``new`` (None: a deletion) into ``table``; the event it causes, if any.

    A rewrite with the same lease and content (a retried put) replaces the entry silently.
    """
    old = table.get(instance_id)
    if new is None:
        if old is None:
            return None
        del table[instance_id]
        return ServiceEvent(ServiceEventType.REMOVED, old)
    table[instance_id] = new
    if old is None:
        return ServiceEvent(ServiceEventType.ADDED, new)
    if old.same_registration(new):
        return None
    return ServiceEvent(ServiceEventType.UPDATED, new, old)


def diff_tables(
    old: Mapping[str, ServiceInstance], new: Mapping[str, ServiceInstance]
) -> list[ServiceEvent]:
    """The events that turn ``old`` into ``new``: removals, then updates, then additions."""
    removed = [ServiceEvent(ServiceEventType.REMOVED, old[i]) for i in sorted(old.keys() - new)]
    updated = [
        ServiceEvent(ServiceEventType.UPDATED, new[i], old[i])
        for i in sorted(old.keys() & new.keys())
        if not old[i].same_registration(new[i])
    ]
    added = [ServiceEvent(ServiceEventType.ADDED, new[i]) for i in sorted(new.keys() - old)]
    return removed + updated + added


# ---------------------------------------------------------------- selection

StrategyName = Literal["round_robin", "random", "sticky"]
Strategy = StrategyName | Callable[[Sequence[ServiceInstance]], ServiceInstance]
"""A strategy name, or a callable that picks one of the (non-empty) available instances."""

STRATEGIES = ("round_robin", "random", "sticky")


def check_strategy(strategy: object) -> Strategy:
    """``strategy`` if it is a known name or a callable, else InvalidArgumentError."""
    if callable(strategy) or strategy in STRATEGIES:
        return strategy  # type: ignore[return-value]
    raise InvalidArgumentError(f"strategy must be one of {STRATEGIES} or a callable: {strategy!r}")


class DownInstancePolicy:
    """Curator's DownInstancePolicy: ``threshold`` errors noted within ``seconds`` mark an
    instance down for ``seconds``; ``mark_down`` does it at once. Times are monotonic."""

    def __init__(self, seconds: float = 30.0, threshold: int = 2) -> None:
        if not isinstance(seconds, (int, float)) or not seconds > 0 or math.isinf(seconds):
            raise InvalidArgumentError(f"down seconds must be a positive number: {seconds!r}")
        if not isinstance(threshold, int) or threshold < 1:
            raise InvalidArgumentError(f"error threshold must be an int >= 1: {threshold!r}")
        self.seconds = float(seconds)
        self.threshold = threshold
        self.down: dict[str, float] = {}  # instance id -> monotonic time it comes back
        self._errors: dict[str, list[float]] = {}
        self.version = 0  # bumped on every change, so that selectors know to refilter

    def mark_down(self, instance_id: str, now: float, seconds: float | None = None) -> None:
        """Treat the instance as down until ``now + seconds`` (default: the policy's)."""
        span = self.seconds if seconds is None else seconds
        if not isinstance(span, (int, float)) or span < 0 or math.isnan(span):
            raise InvalidArgumentError(f"seconds must be a number >= 0: {seconds!r}")
        self.down[instance_id] = now + span
        self._errors.pop(instance_id, None)
        self.version += 1

    def note_error(self, instance_id: str, now: float) -> bool:
        """Count an error; True when it made the instance down."""
        recent = [t for t in self._errors.get(instance_id, ()) if t > now - self.seconds]
        recent.append(now)
        if len(recent) < self.threshold:
            self._errors[instance_id] = recent
            return False
        self.mark_down(instance_id, now)
        return True

    def mark_up(self, instance_id: str) -> None:
        """Forget errors and the down mark of an instance."""
        self._errors.pop(instance_id, None)
        if self.down.pop(instance_id, None) is not None:
            self.version += 1

    def is_down(self, instance_id: str, now: float) -> bool:
        """True while the instance is marked down."""
        until = self.down.get(instance_id)
        return until is not None and until > now

    def available(
        self, ordered: Sequence[ServiceInstance], now: float
    ) -> tuple[tuple[ServiceInstance, ...], float]:
        """The instances not down, and the time until which that answer holds."""
        for instance_id, until in list(self.down.items()):
            if until <= now:
                self.down.pop(instance_id, None)
        if not self.down:
            return tuple(ordered), math.inf
        down = self.down
        return tuple(i for i in ordered if i.id not in down), min(down.values())


class InstanceSelector:
    """Chooses an instance from a published snapshot, with no I/O (a cache's ``choose``).

    The snapshot is replaced, never mutated (``publish``), so threads may choose while the
    cache's watch thread publishes. The filtered list of available instances is cached until
    the snapshot or the down marks change, or the earliest down mark expires.
    """

    def __init__(
        self, strategy: Strategy = "round_robin", policy: DownInstancePolicy | None = None
    ) -> None:
        self.strategy = check_strategy(strategy)
        self.policy = policy if policy is not None else DownInstancePolicy()
        self._table: Mapping[str, ServiceInstance] = {}
        self._ordered: tuple[ServiceInstance, ...] = ()
        self._available: tuple[ServiceInstance, ...] | None = ()
        self._valid_until = math.inf
        self._policy_version = 0
        self._counter = itertools.count()
        self._sticky: str | None = None
        self._random = random.Random()

    def publish(self, table: Mapping[str, ServiceInstance]) -> None:
        """Use ``table`` (id -> instance, never mutated afterwards) from now on."""
        self._table = table
        self._ordered = tuple(table.values())
        self._available = None

    def available(self, now: float) -> tuple[ServiceInstance, ...]:
        """The instances that are not marked down."""
        available = self._available
        policy = self.policy
        if available is None or now >= self._valid_until or policy.version != self._policy_version:
            self._policy_version = policy.version
            available, self._valid_until = policy.available(self._ordered, now)
            self._available = available
        return available

    def choose(self, now: float, strategy: Strategy | None = None) -> ServiceInstance:
        """One available instance by ``strategy`` (default: the selector's)."""
        available = self.available(now)
        if not available:
            raise NoInstanceError(
                f"no available instance ({len(self._ordered)} registered, "
                f"{len(self._ordered) - len(available)} marked down)"
            )
        how = self.strategy if strategy is None else strategy
        if how == "round_robin":
            return available[next(self._counter) % len(available)]
        if how == "random":
            return self._random.choice(available)
        if how == "sticky":
            current = self._table.get(self._sticky) if self._sticky is not None else None
            if current is None or self.policy.is_down(current.id, now):
                current = available[next(self._counter) % len(available)]
                self._sticky = current.id
            return current
        if callable(how):
            chosen = how(available)
            if not isinstance(chosen, ServiceInstance):
                raise InvalidArgumentError(f"the strategy returned {chosen!r}, not an instance")
            return chosen
        raise InvalidArgumentError(f"strategy must be one of {STRATEGIES} or a callable: {how!r}")
