"""Worker for our own clients: ``--variant sync`` (``etcd_recipes.Client``, threads) or
``--variant async`` (``etcd_recipes.AsyncClient``, asyncio tasks). Runs in the project's venv."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h

if "--path" in sys.argv:  # A/B a change: import etcd_recipes from another checkout
    sys.path.insert(0, sys.argv[sys.argv.index("--path") + 1])

import etcd_recipes
from etcd_recipes import AsyncClient, Client, Compare, Op

NO_LOCK = "client.lock() not implemented yet (etcd_recipes/_async/recipes/lock.py missing)"
NO_ELECTION = (
    "client.election() not implemented yet (etcd_recipes/_async/recipes/election.py missing)"
)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"etcd_recipes._async.recipes.{module}") is not None


INFO = {
    "library": f"etcd-recipes {etcd_recipes.__version__} ({os.path.dirname(os.path.dirname(etcd_recipes.__file__))})",
    "grpcio": h.version_of("grpcio"),
    "protobuf": h.protobuf_info(),
}


class Sync:
    """etcd_recipes.Client."""

    def __init__(self, endpoint: str) -> None:
        self.c = Client([endpoint])
        self.c.connect()
        self.put = self.c.put  # the bound methods, called exactly as a user would
        self.get = self.c.get
        self._locks: dict[str, Any] = {}
        self._session: Any = None
        self.NA: dict[str, str] = {}
        if not _has("lock"):
            self.NA["lock_uncontended"] = self.NA["lock_contend"] = NO_LOCK
        if not _has("election"):
            self.NA["election"] = NO_ELECTION

    def range_count(self, prefix: bytes) -> int:
        return _pairs(self.c.get(prefix, prefix=True))

    def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        txn = self.c.txn().if_(Compare.value(key) == old).then(Op.put(key, new))
        return txn.commit().succeeded

    def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        watcher = self.c.watch(prefix, prefix=True)
        watcher.start()  # returns once etcd confirmed the watch

        def reader() -> None:
            for response in watcher:
                for event in response.events:
                    sink(event.kv.value)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        return watcher.cancel

    def lease_grant(self, ttl: int) -> Any:
        return self.c.lease.grant(ttl)

    def lease_id(self, lease: Any) -> int:
        return int(lease.id)

    def lease_keepalive(self, leases: list[Any]) -> Any:
        for lease in leases:
            lease.keep_alive()

        def stop() -> None:
            for lease in leases:
                lease.stop_keep_alive()

        return stop

    def lease_revoke(self, lease: Any) -> None:
        lease.revoke()

    def lock_acquire(self, name: str) -> Any:
        # One session per worker, shared by its locks: the same setup as Go's
        # concurrency.NewMutex(session, name) (without it, every acquire grants a lease).
        lock = self._locks.get(name)
        if lock is None:
            if self._session is None:
                self._session = self.c.session(ttl=10)
                self._session.start()
            lock = self._locks[name] = self.c.lock(name, session=self._session)
        lock.acquire()
        return lock

    def lock_release(self, lock: Any) -> None:
        lock.release()

    def candidate(self, name: str, value: bytes) -> Any:
        return _SyncCandidate(self.c.endpoints, name, value)

    def close(self) -> None:
        self.c.close()


class _SyncCandidate:
    def __init__(self, endpoints: list[str], name: str, value: bytes) -> None:
        self.client = Client(endpoints)  # one client (and session) per candidate
        self.election = self.client.election(name)
        self.value = value

    def campaign(self) -> None:
        self.election.campaign(self.value)

    def resign(self) -> None:
        self.election.resign()

    def close(self) -> None:
        self.client.close()


class Async:
    """etcd_recipes.AsyncClient."""

    def __init__(self, endpoint: str) -> None:
        self.c = AsyncClient([endpoint])
        self.put = self.c.put
        self.get = self.c.get
        self._locks: dict[str, Any] = {}
        self._session: Any = None
        self.NA: dict[str, str] = {}
        if not _has("lock"):
            self.NA["lock_uncontended"] = self.NA["lock_contend"] = NO_LOCK
        if not _has("election"):
            self.NA["election"] = NO_ELECTION

    async def range_count(self, prefix: bytes) -> int:
        return _pairs(await self.c.get(prefix, prefix=True))

    async def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        txn = self.c.txn().if_(Compare.value(key) == old).then(Op.put(key, new))
        return (await txn.commit()).succeeded

    async def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        watcher = self.c.watch(prefix, prefix=True)
        await watcher.start()

        async def reader() -> None:
            async for response in watcher:
                for event in response.events:
                    sink(event.kv.value)

        task = asyncio.ensure_future(reader())

        async def stop() -> None:
            await watcher.cancel()
            task.cancel()

        return stop

    async def lease_grant(self, ttl: int) -> Any:
        return await self.c.lease.grant(ttl)

    def lease_id(self, lease: Any) -> int:
        return int(lease.id)

    async def lease_keepalive(self, leases: list[Any]) -> Any:
        for lease in leases:
            await lease.keep_alive()

        async def stop() -> None:
            for lease in leases:
                await lease.stop_keep_alive()

        return stop

    async def lease_revoke(self, lease: Any) -> None:
        await lease.revoke()

    async def lock_acquire(self, name: str) -> Any:
        lock = self._locks.get(name)
        if lock is None:
            if self._session is None:
                self._session = self.c.session(ttl=10)
                await self._session.start()
            lock = self._locks[name] = self.c.lock(name, session=self._session)
        await lock.acquire()
        return lock

    async def lock_release(self, lock: Any) -> None:
        await lock.release()

    async def candidate(self, name: str, value: bytes) -> Any:
        return _AsyncCandidate(self.c.endpoints, name, value)

    async def close(self) -> None:
        await self.c.close()


class _AsyncCandidate:
    def __init__(self, endpoints: list[str], name: str, value: bytes) -> None:
        self.client = AsyncClient(endpoints)
        self.election = self.client.election(name)
        self.value = value

    async def campaign(self) -> None:
        await self.election.campaign(self.value)

    async def resign(self) -> None:
        await self.election.resign()

    async def close(self) -> None:
        await self.client.close()


async def _make_async(endpoint: str) -> Async:
    adapter = Async(endpoint)
    await adapter.c.connect()
    return adapter


def _pairs(response: Any) -> int:
    """Read every key and value, as a user must (and as the bare workers do), the documented fast
    way: ``GetResponse.items()`` (key, value) pairs, no ``KeyValue`` made. Counting alone would
    flatter us: the range's items are made only when reached."""
    n = 0
    for key, value in response.items():  # noqa: B007
        n += 1
    return n


if __name__ == "__main__":
    variant = sys.argv[sys.argv.index("--variant") + 1]
    if variant == "sync":
        h.serve_sync(Sync, {**INFO, "api": "Client (threads)"})
    else:
        h.serve_async(_make_async, {**INFO, "api": "AsyncClient (asyncio)"})
