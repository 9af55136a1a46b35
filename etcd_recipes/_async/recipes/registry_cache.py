"""The discovery cache: a service's instances, primed by one read and followed by a watch.

Keys: the instance keys ``<namespace><service>/<instance id>`` of one service (read only).
etcd calls: one linearizable Range of the service prefix, then a Watch of that prefix from the
Range's header revision + 1, so no change between the read and the watch is missed.

Error handling: the client's watch resumes on another member by itself after a member dies or
a stream breaks, from the last delivered revision + 1 (nothing lost, nothing twice). If that
revision was compacted meanwhile (CompactedError), or the watch fails in any other way, the
cache reads the prefix again, emits the difference (ADDED / UPDATED / REMOVED) and watches from
the new read's revision + 1; failing reads are retried with backoff (up to 1 s) until
``close()``. Meanwhile the cache keeps serving its last known instances. ``choose()`` never
does I/O; it raises NoInstanceError when no instance is available.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..._core.registry import (
    InstanceSelector,
    RegistryError,
    ServiceEvent,
    ServiceInstance,
    Strategy,
    apply_change,
    diff_tables,
    instance_from_kv,
    split_key,
)
from ..._core.types import Event, EventType, KeyValue
from ..._exceptions import ClientClosedError, EtcdError, EtcdTimeoutError, InvalidArgumentError
from .. import _backend as backend

if TYPE_CHECKING:
    from ..client import AsyncClient
    from ..watch import AsyncWatcher

log = logging.getLogger("etcd_recipes.registry")

CacheListener = Callable[[ServiceEvent], Any]

_CLOSED = object()


class AsyncServiceCache:
    """A local, watch-fed view of one service's instances (``registry.cache(service)``).

    Start it with ``async with`` or ``await cache.start()`` (one read; raises if etcd cannot
    be read), then ``choose()`` an instance with no I/O, read ``instances()`` / ``get(id)``,
    and ``add_listener(callback)`` for ``ServiceEvent``s (called on the event loop / the
    cache's thread). ``mark_down(instance, seconds)`` / ``note_error(instance)`` make
    ``choose`` skip an instance for a while (Curator's DownInstancePolicy).
    ``registry.watch(service)`` returns a cache that can also be iterated for its events.
    """

    def __init__(
        self,
        client: AsyncClient,
        prefix: str,
        service: str,
        selector: InstanceSelector,
        *,
        queue_events: bool = False,
    ) -> None:
        self.client = client
        self.service = service
        self.prefix = prefix
        self.revision = 0
        """The etcd revision the cache reflects (every change up to it is applied)."""
        self._raw_prefix = prefix.encode()
        self._selector = selector
        self._table: Mapping[str, ServiceInstance] = {}
        self._listeners: list[CacheListener] = []
        self._changed = backend.Event()
        self._queue: backend.Queue[Any] | None = backend.Queue() if queue_events else None
        self._watcher: AsyncWatcher | None = None
        self._task: backend.Task | None = None
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.prefix!r} {len(self._table)} instances>"

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> AsyncServiceCache:
        """Read the instances and start following changes (idempotent)."""
        if self._closed:
            raise ClientClosedError("the cache is closed")
        if self._started:
            return self
        await self._read()
        self._watcher = await self.client.watch(
            self.prefix, prefix=True, start_revision=self.revision + 1
        ).start()
        self._started = True
        self._task = backend.spawn(self._follow, name="etcd-registry-cache")
        return self

    async def close(self) -> None:
        """Stop following changes (idempotent); the last known instances stay readable."""
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            await self._watcher.cancel()
        if self._task is not None:
            # asyncio: stops at once. A thread stops when its current call returns (a watch
            # being re-created waits for etcd's answer); it applies nothing after close().
            self._task.cancel()
            await self._task.join(0.5)
        if self._queue is not None:
            self._queue.put(_CLOSED)
        self._wake()

    async def __aenter__(self) -> AsyncServiceCache:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------ reading (no I/O)

    def instances(self) -> list[ServiceInstance]:
        """The known instances, sorted by id."""
        return sorted(self._table.values(), key=lambda i: i.id)

    def get(self, instance_id: str) -> ServiceInstance | None:
        """The instance with this id, or None."""
        return self._table.get(instance_id)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._table

    def choose(self, strategy: Strategy | None = None) -> ServiceInstance:
        """An instance that is not marked down: ``"round_robin"`` (default), ``"random"``,
        ``"sticky"`` (the same one while it stays available) or ``callable(instances)``.

        No I/O. Raises NoInstanceError when none is available.
        """
        if not self._started:
            raise RegistryError("start the cache first (async with / start())")
        return self._selector.choose(backend.monotonic(), strategy)

    def mark_down(self, instance: ServiceInstance | str, seconds: float | None = None) -> None:
        """Skip this instance in ``choose`` for ``seconds`` (default: the cache's down_seconds)."""
        self._selector.policy.mark_down(_instance_id(instance), backend.monotonic(), seconds)

    def note_error(self, instance: ServiceInstance | str) -> bool:
        """Count an error against an instance; True when that marked it down."""
        return self._selector.policy.note_error(_instance_id(instance), backend.monotonic())

    def mark_up(self, instance: ServiceInstance | str) -> None:
        """Forget an instance's errors and down mark."""
        self._selector.policy.mark_up(_instance_id(instance))

    # ------------------------------------------------------------ being told

    def add_listener(self, callback: CacheListener) -> None:
        """Call ``callback(event)`` for every ADDED / UPDATED / REMOVED; listeners added before
        ``start()`` also get the primed instances as ADDED."""
        self._listeners.append(callback)

    def remove_listener(self, callback: CacheListener) -> None:
        """Stop calling ``callback``."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    async def wait_until(
        self, predicate: Callable[[Mapping[str, ServiceInstance]], bool], timeout: float
    ) -> bool:
        """Wait (bounded) until ``predicate(id -> instance)`` holds; True if it does."""
        deadline = backend.monotonic() + timeout
        while True:
            changed = self._changed
            if predicate(self._table):
                return True
            remaining = deadline - backend.monotonic()
            if remaining <= 0 or self._closed:
                return False
            await backend.wait_event(changed, remaining)

    async def read(self, timeout: float | None = None) -> ServiceEvent:
        """The next event of a ``registry.watch()`` cache; EtcdTimeoutError after ``timeout``,
        ClientClosedError (StopAsyncIteration when iterating) once closed."""
        if self._queue is None:
            raise InvalidArgumentError("only a cache from registry.watch() queues its events")
        if not self._started:
            await self.start()
        try:
            item = await self._queue.get(timeout)
        except TimeoutError:
            raise EtcdTimeoutError(f"no registry event within {timeout}s") from None
        if item is _CLOSED:
            self._queue.put(_CLOSED)
            raise ClientClosedError("the cache is closed")
        event: ServiceEvent = item
        return event

    def __aiter__(self) -> AsyncServiceCache:
        return self

    async def __anext__(self) -> ServiceEvent:
        try:
            return await self.read()
        except ClientClosedError:
            raise StopAsyncIteration from None

    # ------------------------------------------------------------ internals

    async def _read(self) -> None:
        """Read the prefix and replace the table, emitting the difference."""
        response = await self.client.get(self.prefix, prefix=True)
        table: dict[str, ServiceInstance] = {}
        for kv in response.kvs:
            instance = self._decode(kv)
            if instance is not None:
                table[instance.id] = instance
        self.revision = response.header.revision
        self._publish(table, diff_tables(self._table, table))

    async def _follow(self) -> None:
        """Apply the watch's events; on any watch failure read again and watch anew."""
        backoff = 0.05
        watcher = self._watcher
        try:
            while not self._closed:
                if watcher is None:
                    try:
                        await self._read()
                        watcher = self._watcher = self.client.watch(
                            self.prefix, prefix=True, start_revision=self.revision + 1
                        )
                        await watcher.start()
                    except ClientClosedError:
                        return
                    except EtcdError as error:
                        log.warning("registry cache %s: re-read failed (%s)", self.prefix, error)
                        watcher = self._watcher = None
                        await backend.sleep(backoff)
                        backoff = min(backoff * 2, 1.0)
                        continue
                try:
                    async for response in watcher:
                        self._apply(response.events, response.header.revision)
                        backoff = 0.05
                    return  # the watch ended: cancelled by close(), or the client was closed
                except ClientClosedError:
                    return
                except EtcdError as error:
                    log.info(
                        "registry cache %s: watch failed (%s); reading again", self.prefix, error
                    )
                    await watcher.cancel()
                    watcher = self._watcher = None
        finally:
            if watcher is not None and self._closed:
                await watcher.cancel()  # one created while close() ran

    def _apply(self, events: tuple[Event, ...], revision: int) -> None:
        table = dict(self._table)  # copy on write: readers may be other threads
        changes = []
        touched = False
        for event in events:
            if event.type is EventType.PUT:
                instance = self._decode(event.kv)
                instance_id = instance.id if instance else split_key(self._raw_prefix, event.key)
            else:
                instance, instance_id = None, split_key(self._raw_prefix, event.key)
            if instance_id is not None:
                touched = True  # even a silent rewrite (a retried put) has new revisions
                change = apply_change(table, instance_id, instance)
                if change is not None:
                    changes.append(change)
        self.revision = max(self.revision, revision)
        if touched:
            self._publish(table, changes)

    def _decode(self, kv: KeyValue) -> ServiceInstance | None:
        instance = instance_from_kv(self.service, self._raw_prefix, kv)
        if instance is None and split_key(self._raw_prefix, kv.key) is not None:
            log.warning("registry cache: ignoring %r, not a registry value", kv.key)
        return instance

    def _publish(self, table: dict[str, ServiceInstance], changes: list[ServiceEvent]) -> None:
        if self._closed:
            return
        self._table = table
        self._selector.publish(table)
        for change in changes:
            if self._queue is not None:
                self._queue.put(change)
            for callback in list(self._listeners):
                try:
                    callback(change)
                except Exception:
                    log.exception("registry cache listener failed")
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, backend.Event()
        changed.set()


def _instance_id(instance: ServiceInstance | str) -> str:
    return instance if isinstance(instance, str) else instance.id
