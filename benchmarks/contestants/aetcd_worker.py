"""Worker for aetcd (asyncio, grpc.aio underneath)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h
import aetcd


class Adapter:
    NA = {"election": "aetcd has no election recipe"}

    def __init__(self, endpoint: str) -> None:
        host, port = endpoint.rsplit(":", 1)
        self.c = aetcd.Client(host=host, port=int(port))
        self.put = self.c.put
        self.get = self.c.get
        self.tx = self.c.transactions
        self._locks: dict[str, Any] = {}

    async def range_count(self, prefix: bytes) -> int:
        return sum(1 for _ in await self.c.get_prefix(prefix))

    async def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        ok, _ = await self.c.transaction(
            compare=[self.tx.value(key) == old], success=[self.tx.put(key, new)], failure=[]
        )
        return bool(ok)

    async def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        watch = await self.c.watch_prefix(prefix)  # returns once the watch is created

        async def reader() -> None:
            async for event in watch:
                sink(event.kv.value)

        task = asyncio.ensure_future(reader())

        async def stop() -> None:
            await watch.cancel()
            task.cancel()

        return stop

    async def lease_grant(self, ttl: int) -> Any:
        return await self.c.lease(ttl)

    def lease_id(self, lease: Any) -> int:
        return int(lease.id)

    async def lease_keepalive(self, leases: list[Any]) -> Any:
        """No background keep-alive in aetcd: a task refreshes every lease each ttl/3 with
        ``lease.refresh()`` (one LeaseKeepAlive stream per call), 32 at a time."""
        stopped = [False]
        interval = max(leases[0].ttl / 3.0, 0.2) if leases else 1.0
        sem = asyncio.Semaphore(32)

        async def one(lease: Any) -> None:
            async with sem:
                await lease.refresh()

        async def loop() -> None:
            while not stopped[0]:
                t0 = time.monotonic()
                await asyncio.gather(*(one(lease) for lease in leases))
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - t0)))

        task = asyncio.ensure_future(loop())

        async def stop() -> None:
            stopped[0] = True
            task.cancel()

        return stop

    async def lease_revoke(self, lease: Any) -> None:
        await lease.revoke()

    async def lock_acquire(self, name: str) -> Any:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = self.c.lock(name.encode(), ttl=10)
        if not await lock.acquire(timeout=None):
            raise RuntimeError("lock not acquired")
        return lock

    async def lock_release(self, lock: Any) -> None:
        await lock.release()

    async def close(self) -> None:
        await self.c.close()


async def make(endpoint: str) -> Adapter:
    adapter = Adapter(endpoint)
    await adapter.c.connect()
    return adapter


if __name__ == "__main__":
    info = {
        "library": f"aetcd {h.version_of('aetcd')}",
        "grpcio": h.version_of("grpcio"),
        "protobuf": h.protobuf_info(),
        "api": "asyncio",
    }
    h.serve_async(make, info)
