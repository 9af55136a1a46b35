"""Worker for etcd-client-py (a Rust core over tokio, asyncio API)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h
import etcd_client as E


class Adapter:
    NA = {
        "lease": "lease_grant() returns () -- no lease id to keep alive or revoke",
        "election": "etcd-client-py has no election recipe",
    }

    def __init__(self, endpoint: str) -> None:
        self.c = E.Client([endpoint])

    async def start(self) -> None:
        self._cm = self.c.connect()
        self.comm = await self._cm.__aenter__()
        self.put = self.comm.put
        self.get = self.comm.get

    async def range_count(self, prefix: bytes) -> int:
        return len(await self.comm.get_prefix(prefix))

    async def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        txn = E.Txn().when([E.Compare.value(key, E.CompareOp.EQUAL, old)])
        txn = txn.and_then([E.TxnOp.put(key, new)])
        return bool((await self.comm.txn(txn)).succeeded())

    async def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        ready = E.CondVar()
        watch = self.comm.watch_prefix(prefix, ready_event=ready)

        async def reader() -> None:
            async for event in watch:
                sink(event.value)

        task = asyncio.ensure_future(reader())
        await asyncio.wait_for(ready.wait(), 10)

        async def stop() -> None:
            task.cancel()

        return stop

    async def lock_acquire(self, name: str) -> Any:
        # lock() returns () in 0.5.1, so only the with_lock() context manager works; each one
        # opens its own connection.
        cm = self.c.with_lock(E.EtcdLockOption(lock_name=name.encode(), timeout=None, ttl=10))
        await cm.__aenter__()
        return cm

    async def lock_release(self, cm: Any) -> None:
        await cm.__aexit__(None, None, None)

    async def close(self) -> None:
        await self._cm.__aexit__(None, None, None)


async def make(endpoint: str) -> Adapter:
    adapter = Adapter(endpoint)
    await adapter.start()
    return adapter


if __name__ == "__main__":
    info = {
        "library": f"etcd-client-py {h.version_of('etcd-client-py')} (Rust etcd-client + tokio)",
        "api": "asyncio",
    }
    h.serve_async(make, info)
