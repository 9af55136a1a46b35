# GENERATED from etcd_recipes/_async/recipes/registry.py by scripts/unasync.py -- do not edit.
"""Service registry: instances register while alive, callers discover them from a local cache.

Keys: ``<namespace><service>/<instance id>`` (namespace ``"/services/"`` by default) holding
JSON ``{"address": ..., "port": ..., "metadata": {...}, "registered_at": <unix seconds>}``,
bound to the lease of the registration's session, so etcd deletes it when the process dies.

etcd calls: ``register`` = LeaseGrant + Put(lease) (+ the LeaseKeepAlive stream);
``update`` = Txn(If lease(key) == ours Then Put); ``deregister`` = LeaseRevoke (a guarded
Txn delete when the session is the caller's); ``instances`` = one linearizable Range;
``services`` = Range keys_only; ``cache`` / ``watch`` = Range, then Watch(prefix) from the
Range's header revision + 1 (see ``registry_cache.py``).

Error handling:

* Bad input (service name or instance id empty, with ``/`` or NUL, longer than 255 bytes;
  metadata not JSON; bad address/port) raises an ``InvalidRegistrationError`` subclass
  before anything is sent.
* ``register`` retries its put while the outcome is unknown (it is idempotent) until the
  registry's ``timeout``; if it still fails, the lease is revoked (or expires within ``ttl``)
  and the error is raised: nothing stays registered.
* If the lease is lost (etcd expired it during a partition or a pause, or no refresh succeeded
  for ``ttl`` seconds), the handle reports LOST to its listeners and re-registers in the
  background with a new lease (backoff up to 1 s) until it succeeds (REGISTERED) or is
  deregistered. A lease rides out a paused member only if ``2/3 * ttl`` exceeds the client's
  keepalive_time + keepalive_timeout (6 + 2 s by default) plus an election: ``ttl >= 15``.
* ``update`` raises RegistrationLostError while the registration is lost (the new metadata is
  kept and written on re-registration) or when the key was deleted or taken over by another
  writer of the same id (last writer wins; this handle then stops claiming it).
* ``deregister`` never raises for connection trouble: it stops the keep-alive first, so if the
  revoke fails the key still disappears within ``ttl``; it returns False in that case.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..._core.ops import Compare, Op
from ..._core.registry import (
    DownInstancePolicy,
    InstanceSelector,
    InvalidRegistrationError,
    RegistrationLostError,
    RegistrationState,
    RegistryError,
    ServiceInstance,
    Strategy,
    check_address,
    check_instance_id,
    check_metadata,
    check_namespace,
    check_service,
    check_strategy,
    encode_value,
    instance_from_kv,
    instance_key,
    service_names,
    service_prefix,
)
from ..._core.types import TxnResponse
from ..._exceptions import (
    ClientClosedError,
    EtcdConnectionError,
    EtcdError,
    EtcdTimeoutError,
)
from .. import _backend as backend
from .registry_cache import ServiceCache
from .session import Session

if TYPE_CHECKING:
    from ..client import Client

log = logging.getLogger("etcd_recipes.registry")

F = TypeVar("F", bound=Callable[..., Any])


RegistrationListener = Callable[["ServiceRegistration", RegistrationState], Any]


class ServiceRegistry:
    """Register service instances and discover them (``client.registry(namespace)``).

    ::

        registry = client.registry()                       # keys under /services/
        with registry.registration("api", address="10.0.0.5", port=8080):
            ...                                            # registered while inside
        with registry.cache("api") as cache:
            instance = cache.choose()                      # no I/O

    ``ttl``: default lease TTL of registrations (seconds; etcd grants at least ~1 s).
    ``timeout``: how long ``register`` / ``update`` keep retrying a write whose outcome is
    unknown (default: the client's ``retry_timeout``).
    """

    def __init__(
        self,
        client: Client,
        namespace: str = "/services/",
        *,
        ttl: int = 10,
        timeout: float | None = None,
    ) -> None:
        self.client = client
        self.namespace = check_namespace(namespace)
        self.ttl = _check_ttl(ttl)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.namespace!r} ttl={self.ttl}>"

    def key(self, service: str, instance_id: str) -> str:
        """The key of an instance: ``<namespace><service>/<instance id>``."""
        return instance_key(self.namespace, check_service(service), check_instance_id(instance_id))

    def registration(
        self,
        service: str,
        instance_id: str | None = None,
        *,
        address: str,
        port: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl: int | None = None,
        session: Session | None = None,
    ) -> ServiceRegistration:
        """A registration to enter with ``with`` (registered inside, removed on exit).

        Checks its arguments now. ``instance_id`` defaults to a random UUID (hex).
        ``session``: share a started session's lease instead of a private one (if it is lost,
        the registration continues on a private lease of the same TTL).
        """
        return ServiceRegistration(
            self,
            service,
            instance_id,
            address=address,
            port=port,
            metadata=metadata,
            ttl=ttl,
            session=session,
        )

    def register(
        self,
        service: str,
        instance_id: str | None = None,
        *,
        address: str,
        port: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl: int | None = None,
        session: Session | None = None,
    ) -> ServiceRegistration:
        """Register an instance now; returns its handle (see ``registration``)."""
        handle = self.registration(
            service,
            instance_id,
            address=address,
            port=port,
            metadata=metadata,
            ttl=ttl,
            session=session,
        )
        return handle.start()

    def service(
        self,
        service: str,
        instance_id: str | None = None,
        *,
        address: str,
        port: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl: int | None = None,
    ) -> Callable[[F], F]:
        """Decorate a function that runs for the life of a service instance: each call is
        registered before the body starts and deregistered when it returns or raises.

        The asyncio registry decorates coroutine functions, the sync one plain functions.
        """
        options: dict[str, Any] = {
            "address": address,
            "port": port,
            "metadata": metadata,
            "ttl": ttl,
        }
        self.registration(service, instance_id, **options)  # checks the arguments now

        def decorate(func: F) -> F:
            if inspect.iscoroutinefunction(func) != backend.IS_ASYNC:
                kind = "coroutine functions" if backend.IS_ASYNC else "plain (not async) functions"
                raise InvalidRegistrationError(f"this registry's service() decorates {kind}")

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.registration(service, instance_id, **options):
                    return func(*args, **kwargs)

            return cast(F, wrapper)

        return decorate

    def instances(self, service: str) -> list[ServiceInstance]:
        """The instances registered now (one linearizable read), sorted by id."""
        prefix = service_prefix(self.namespace, check_service(service))
        response = self.client.get(prefix, prefix=True)
        raw = prefix.encode()
        found = [i for kv in response.kvs if (i := instance_from_kv(service, raw, kv))]
        return sorted(found, key=lambda i: i.id)

    def services(self) -> list[str]:
        """The names of the services with at least one instance key, sorted."""
        response = self.client.get(self.namespace, prefix=True, keys_only=True)
        return service_names(self.namespace.encode(), [kv.key for kv in response.kvs])

    def cache(
        self,
        service: str,
        *,
        strategy: Strategy = "round_robin",
        down_seconds: float = 30.0,
        error_threshold: int = 2,
    ) -> ServiceCache:
        """A local view of a service's instances, kept current by a watch; start it with
        ``with`` or ``cache.start()`` (see ``ServiceCache``).

        ``strategy``: ``choose()``'s default; ``down_seconds`` / ``error_threshold``: the
        down-instance policy (``error_threshold`` errors noted within ``down_seconds`` mark an
        instance down for ``down_seconds``).
        """
        return self._cache(service, strategy, down_seconds, error_threshold, False)

    def watch(
        self,
        service: str,
        *,
        strategy: Strategy = "round_robin",
        down_seconds: float = 30.0,
        error_threshold: int = 2,
    ) -> ServiceCache:
        """A cache that can also be iterated for its events (the primed instances come first,
        as ADDED)::

            with registry.watch("api") as watch:
                for event in watch: ...
        """
        return self._cache(service, strategy, down_seconds, error_threshold, True)

    def _cache(
        self, service: str, strategy: Strategy, seconds: float, threshold: int, queue: bool
    ) -> ServiceCache:
        prefix = service_prefix(self.namespace, check_service(service))
        selector = InstanceSelector(
            check_strategy(strategy), DownInstancePolicy(seconds, threshold)
        )
        return ServiceCache(self.client, prefix, service, selector, queue_events=queue)


class ServiceRegistration:
    """A registration handle (from ``registry.register`` / ``registry.registration``).

    ``registered`` tells whether the instance is in etcd as far as this process knows;
    ``lost_count`` counts lease losses; ``add_listener(callback)`` calls
    ``callback(registration, RegistrationState)`` on every change (on the event loop / a
    background thread).
    """

    def __init__(
        self,
        registry: ServiceRegistry,
        service: str,
        instance_id: str | None,
        *,
        address: str,
        port: int | None,
        metadata: Mapping[str, Any] | None,
        ttl: int | None,
        session: Session | None,
    ) -> None:
        self.registry = registry
        self.service = check_service(service)
        self.id = check_instance_id(uuid.uuid4().hex if instance_id is None else instance_id)
        self.address, self.port = check_address(address, port)
        self.metadata = check_metadata(metadata)
        if session is not None:
            ttl = session.ttl
        self.ttl = _check_ttl(registry.ttl if ttl is None else ttl)
        self.key = instance_key(registry.namespace, self.service, self.id)
        self.registered = False
        self.registered_at = 0.0
        self.lost_count = 0
        self._client = registry.client
        self._shared = session
        self._session: Session | None = None
        self._version = 0  # bumped by update(): the restorer rewrites until it wrote the latest
        self._started = False
        self._closed = False
        self._restoring: backend.Task | None = None
        self._listeners: list[RegistrationListener] = []
        self._registered_event = backend.Event()

    def __repr__(self) -> str:
        state = "deregistered" if self._closed else "registered" if self.registered else "lost"
        return f"<{type(self).__name__} {self.key!r} {state}>"

    @property
    def lease_id(self) -> int:
        """The lease the key is bound to now (0 before registration)."""
        return self._session.lease_id if self._session is not None else 0

    def add_listener(self, callback: RegistrationListener) -> None:
        """Call ``callback(registration, state)`` on REGISTERED / LOST / DEREGISTERED."""
        self._listeners.append(callback)

    def wait_registered(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until the instance is registered; True if it is."""
        return backend.wait_event(self._registered_event, timeout)

    def start(self) -> ServiceRegistration:
        """Write the registration (idempotent); raises if it could not be written."""
        if self._closed:
            raise RegistryError("this registration was deregistered; create a new one")
        if self._started:
            return self
        self._started = True
        session = self._shared or self._client.session(self.ttl)
        try:
            session.start()
            self._write(session)
        except BaseException:
            self._started = False
            if session is not self._shared:
                _close_quietly(session)
            raise
        self._adopt(session)
        return self

    def update(self, metadata: Mapping[str, Any] | None) -> None:
        """Replace the metadata in place (same key, lease and create revision)."""
        new = check_metadata(metadata)
        if self._closed:
            raise RegistryError("this registration was deregistered")
        self.metadata = new
        self._version += 1
        session = self._session
        if not self.registered or session is None:
            raise RegistrationLostError(
                f"{self.key} is not registered now; the new metadata is written when it is"
            )
        lease = session.lease_id
        put = Op.put(self.key, self._value(), lease=lease)
        response = self._retrying(self._guarded, lease, put)
        if not response.succeeded and session is self._session and not self._closed:
            self._set_state(RegistrationState.LOST)
            raise RegistrationLostError(
                f"{self.key} was deleted or taken over by another registration"
            )

    def deregister(self) -> bool:
        """Remove the instance now (idempotent). False if etcd could not be told, in which
        case the key expires within ``ttl`` (the keep-alive is stopped first)."""
        if self._closed:
            return True
        self._closed = True
        if self._restoring is not None:
            # Never cancelled mid-write (that could leak a kept-alive lease): it sees _closed.
            self._restoring.join(self._client._conn.retry_timeout)
        session, self._session = self._session, None
        removed = True
        if session is not None:
            try:
                if session is self._shared:  # a guarded delete: the lease is the caller's
                    self._guarded(session.lease_id, Op.delete(self.key), timeout=None)
                else:
                    session.close()
            except EtcdError as error:
                removed = False
                log.warning("deregistering %s failed (%s); it expires within ttl", self.key, error)
                if session is not self._shared:
                    session.lease.stop_keep_alive()
        if self._started:
            self._set_state(RegistrationState.DEREGISTERED)
        return removed

    def __enter__(self) -> ServiceRegistration:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.deregister()

    # ------------------------------------------------------------ internals

    def _value(self) -> bytes:
        return encode_value(self.address, self.port, self.metadata, self.registered_at)

    def _write(self, session: Session) -> None:
        """Put the key with the session's lease until the latest metadata is written."""
        lease = session.lease_id
        while True:
            version = self._version
            self.registered_at = time.time()
            self._retrying(self._client.put, self.key, self._value(), lease=lease)
            if version == self._version:
                return

    def _guarded(self, lease: int, op: Op, *, timeout: float | None) -> TxnResponse:
        """Run ``op`` if the key is still bound to ``lease``."""
        txn = self._client.txn(timeout=timeout).if_(Compare.lease(self.key) == lease)
        return txn.then(op).commit()

    def _retrying(self, call: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run an idempotent write, again while its outcome is unknown, until the timeout."""
        budget = self.registry.timeout
        if budget is None:
            budget = self._client._conn.retry_timeout
        deadline = backend.monotonic() + budget
        backoff = 0.05
        while True:
            remaining = deadline - backend.monotonic()
            try:
                return call(*args, timeout=max(remaining, 0.01), **kw)
            except (EtcdConnectionError, EtcdTimeoutError) as error:
                if backend.monotonic() + backoff >= deadline:
                    raise
                log.info("retrying the write of %s (%s)", self.key, error)
            backend.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _adopt(self, session: Session) -> None:
        self._session = session
        self._set_state(RegistrationState.REGISTERED)
        session.add_lost_callback(self._on_lost)

    def _set_state(self, state: RegistrationState) -> None:
        self.registered = state is RegistrationState.REGISTERED
        if self.registered:
            self._registered_event.set()
        else:
            self._registered_event = backend.Event()
        if state is RegistrationState.LOST:
            self.lost_count += 1
        log.info("%s: %s", self.key, state.value)
        for callback in list(self._listeners):
            try:
                callback(self, state)
            except Exception:
                log.exception("registration listener failed")

    def _on_lost(self, session: Session) -> None:
        """The session's lease was lost (called on the loop / the keep-alive thread)."""
        if self._closed or session is not self._session:
            return
        self._set_state(RegistrationState.LOST)
        if self._restoring is None or self._restoring.done():
            self._restoring = backend.spawn(self._restore, name="etcd-registry-restore")

    def _restore(self) -> None:
        """Re-register on a new private lease, with backoff, until done or deregistered."""
        backoff = 0.05
        while not self._closed:
            session = self._client.session(self.ttl)
            try:
                session.start()
                self._write(session)
            except ClientClosedError:
                return
            except EtcdError as error:
                log.warning("re-registering %s failed (%s); retrying", self.key, error)
                _close_quietly(session)
                backend.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            if self._closed:
                _close_quietly(session)
                return
            self._shared = None
            self._adopt(session)
            return


def _check_ttl(ttl: object) -> int:
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
        raise InvalidRegistrationError(f"ttl must be a positive int (seconds): {ttl!r}")
    return ttl


def _close_quietly(session: Session) -> None:
    try:
        session.close()
    except EtcdError as error:
        log.info("closing a registry session failed: %s", error)
