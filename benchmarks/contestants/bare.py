"""Worker for the Python ceiling: bare grpcio loops over the project's generated stubs, no client
library around them. ``--variant sync`` (blocking stub calls from threads) or ``--variant aio``
(grpc.aio from asyncio tasks). Range reads touch every key and value, as any user must.

The aio variant also serves as the watch workload's writer (``extra_write_stamped``)."""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h
import grpc
import grpc.aio

from etcd_recipes._pb import rpc_pb2, rpc_pb2_grpc

INFO = {
    "library": f"grpcio {h.version_of('grpcio')} over etcd_recipes._pb stubs",
    "protobuf": h.protobuf_info(),
}
NA = {
    "lease": "bare gRPC loop: no keep-alive machinery (the ceiling is for RPC cost)",
    "lock_uncontended": "bare gRPC loop: no lock recipe",
    "lock_contend": "bare gRPC loop: no lock recipe",
    "election": "bare gRPC loop: no election recipe",
}
Compare = rpc_pb2.Compare


def _range_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _cas_request(key: bytes, old: bytes, new: bytes) -> rpc_pb2.TxnRequest:
    return rpc_pb2.TxnRequest(
        compare=[Compare(result=Compare.EQUAL, target=Compare.VALUE, key=key, value=old)],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=new))],
    )


class Sync:
    NA = NA

    def __init__(self, endpoint: str) -> None:
        self.channel = grpc.insecure_channel(endpoint)
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.watch_stub = rpc_pb2_grpc.WatchStub(self.channel)
        put, rng = self.kv.Put, self.kv.Range
        PutRequest, RangeRequest = rpc_pb2.PutRequest, rpc_pb2.RangeRequest
        self.put = lambda key, value: put(PutRequest(key=key, value=value))
        self.get = lambda key: rng(RangeRequest(key=key))

    def range_count(self, prefix: bytes) -> int:
        response = self.kv.Range(rpc_pb2.RangeRequest(key=prefix, range_end=_range_end(prefix)))
        n = 0
        for kv in response.kvs:
            kv.key, kv.value  # noqa: B018 - touch them, as a user must
            n += 1
        return n

    def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        return bool(self.kv.Txn(_cas_request(key, old, new)).succeeded)

    def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        create = rpc_pb2.WatchCreateRequest(key=prefix, range_end=_range_end(prefix))
        requests.put(rpc_pb2.WatchRequest(create_request=create))

        def gen() -> Any:
            while True:
                item = requests.get()
                if item is None:
                    return
                yield item

        call = self.watch_stub.Watch(gen())
        created = threading.Event()

        def reader() -> None:
            try:
                for response in call:
                    if response.created:
                        created.set()
                    for event in response.events:
                        sink(event.kv.value)
            except grpc.RpcError:
                pass

        threading.Thread(target=reader, daemon=True).start()
        if not created.wait(10):
            raise RuntimeError("watch not created")

        def stop() -> None:
            requests.put(None)
            call.cancel()

        return stop

    def close(self) -> None:
        self.channel.close()


class Aio:
    NA = NA

    def __init__(self, endpoint: str) -> None:
        self.channel = grpc.aio.insecure_channel(endpoint)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.watch_stub = rpc_pb2_grpc.WatchStub(self.channel)
        put, rng = self.kv.Put, self.kv.Range
        PutRequest, RangeRequest = rpc_pb2.PutRequest, rpc_pb2.RangeRequest
        self.put = lambda key, value: put(PutRequest(key=key, value=value))
        self.get = lambda key: rng(RangeRequest(key=key))

    async def range_count(self, prefix: bytes) -> int:
        response = await self.kv.Range(
            rpc_pb2.RangeRequest(key=prefix, range_end=_range_end(prefix))
        )
        n = 0
        for kv in response.kvs:
            kv.key, kv.value  # noqa: B018
            n += 1
        return n

    async def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        return bool((await self.kv.Txn(_cas_request(key, old, new))).succeeded)

    async def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        call = self.watch_stub.Watch()
        create = rpc_pb2.WatchCreateRequest(key=prefix, range_end=_range_end(prefix))
        await call.write(rpc_pb2.WatchRequest(create_request=create))
        first = await call.read()
        if not first.created:
            raise RuntimeError("watch not created")

        async def reader() -> None:
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                for event in response.events:
                    sink(event.kv.value)

        task = asyncio.ensure_future(reader())

        async def stop() -> None:
            call.cancel()
            task.cancel()

        return stop

    async def extra_write_stamped(self, p: dict[str, Any]) -> dict[str, Any]:
        """The watch workload's writer: ``count`` puts under ``prefix`` with ``conc`` in flight,
        each value stamped with the wall-clock time just before it is sent."""
        prefix, count, conc = p["prefix"].encode(), p["count"], p["conc"]
        nxt = [0]
        put = self.kv.Put
        first = [0]

        async def writer(w: int) -> None:
            key = b"%s%d" % (prefix, w)
            while nxt[0] < count:
                i = nxt[0]
                nxt[0] += 1
                value = h.stamped_value(i)
                if not first[0]:
                    first[0] = int(value[:19])
                await put(rpc_pb2.PutRequest(key=key, value=value))

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(conc)))
        return {"first_put_ns": first[0], "puts_s": count / (time.perf_counter() - t0)}

    async def close(self) -> None:
        await self.channel.close()


async def _make_aio(endpoint: str) -> Aio:
    adapter = Aio(endpoint)
    await asyncio.wait_for(adapter.channel.channel_ready(), 10)
    return adapter


if __name__ == "__main__":
    variant = sys.argv[sys.argv.index("--variant") + 1]
    if variant == "sync":
        h.serve_sync(Sync, {**INFO, "api": "grpcio blocking stubs (threads)"})
    else:
        h.serve_async(_make_aio, {**INFO, "api": "grpc.aio stubs (asyncio)"})
