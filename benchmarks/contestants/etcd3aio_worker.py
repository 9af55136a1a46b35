"""Worker for etcd3aio (asyncio, grpc.aio underneath)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h
import etcd3aio
from etcd3aio import prefix_range_end
from etcd3aio.kv import KVService


class Adapter:
    NA: dict[str, str] = {}

    def __init__(self, endpoint: str) -> None:
        self.c = etcd3aio.Etcd3Client([endpoint])
        self._locks: dict[str, Any] = {}

    async def start(self) -> None:
        await self.c.connect()
        self.put = self.c.kv.put
        self.get = self.c.kv.get

    async def range_count(self, prefix: bytes) -> int:
        response = await self.c.kv.get(prefix, range_end=prefix_range_end(prefix))
        n = 0
        for kv in response.kvs:  # raw protobuf messages: touch them, as a user must
            kv.key, kv.value  # noqa: B018
            n += 1
        return n

    async def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        response = await self.c.kv.txn(
            [KVService.txn_compare_value(key, old)], [KVService.txn_op_put(key, new)]
        )
        return bool(response.succeeded)

    async def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        created = asyncio.Event()
        stream = self.c.watch.watch(prefix, range_end=prefix_range_end(prefix))

        async def reader() -> None:
            async for response in stream:
                if response.created:
                    created.set()
                for event in response.events:
                    sink(event.kv.value)

        task = asyncio.ensure_future(reader())
        await asyncio.wait_for(created.wait(), 10)

        async def stop() -> None:
            task.cancel()

        return stop

    async def lease_grant(self, ttl: int) -> Any:
        response = await self.c.lease.grant(ttl=ttl)
        return (int(response.ID), ttl)

    def lease_id(self, lease: Any) -> int:
        return int(lease[0])

    async def lease_keepalive(self, leases: list[Any]) -> Any:
        """etcd3aio's ``keep_alive_context`` per lease (a task each, refreshing every
        max(1, ttl // 3) s over a new stream per refresh)."""
        contexts = [self.c.lease.keep_alive_context(lid, ttl) for lid, ttl in leases]
        for context in contexts:
            await context.__aenter__()

        async def stop() -> None:
            for context in contexts:
                await context.__aexit__(None, None, None)

        return stop

    async def lease_revoke(self, lease: Any) -> None:
        await self.c.lease.revoke(lease[0])

    async def lock_acquire(self, name: str) -> Any:
        lock = self.c.lock(name, ttl=10)
        await lock.acquire()
        return lock

    async def lock_release(self, lock: Any) -> None:
        await lock.release()

    async def candidate(self, name: str, value: bytes) -> Any:
        return _Candidate(self.c.election(name, value=value, ttl=10))

    async def close(self) -> None:
        await self.c.close()


class _Candidate:
    def __init__(self, election: Any) -> None:
        self.election = election

    async def campaign(self) -> None:
        await self.election.__aenter__()

    async def resign(self) -> None:
        await self.election.__aexit__(None, None, None)


async def make(endpoint: str) -> Adapter:
    adapter = Adapter(endpoint)
    await adapter.start()
    return adapter


if __name__ == "__main__":
    info = {
        "library": f"etcd3aio {h.version_of('etcd3aio')}",
        "grpcio": h.version_of("grpcio"),
        "protobuf": h.protobuf_info(),
        "api": "asyncio",
    }
    h.serve_async(make, info)
