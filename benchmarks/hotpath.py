#!/usr/bin/env python3
"""Our client's own Python cost per call, measured without a server (so a busy machine barely
matters): the gRPC multi-callable of the member is replaced by a function that returns a canned
response, and each verb is timed against the bare equivalent (building the same request and
calling the same fake). What remains is what etcd-recipes adds on top of grpcio.

    .venv/bin/python benchmarks/hotpath.py            # prints a Markdown table
    .venv/bin/python benchmarks/hotpath.py --json     # machine-readable (used by the report)

Run it against another checkout with ``PYTHONPATH=/path/to/checkout`` to A/B a change.
"""

from __future__ import annotations

import asyncio
import json
import sys
import timeit
from typing import Any

import etcd_recipes
from etcd_recipes import AsyncClient, Client, Compare, Op
from etcd_recipes._core import types
from etcd_recipes._pb import kv_pb2, rpc_pb2

HDR = rpc_pb2.ResponseHeader(cluster_id=1 << 60, member_id=1 << 61, revision=123456, raft_term=7)
KV = kv_pb2.KeyValue(
    key=b"/bench/k", value=b"v" * 100, create_revision=10, mod_revision=20, version=3
)
PUT = rpc_pb2.PutResponse(header=HDR)
GET = rpc_pb2.RangeResponse(header=HDR, count=1, kvs=[KV])
TXN = rpc_pb2.TxnResponse(
    header=HDR,
    succeeded=True,
    responses=[rpc_pb2.ResponseOp(response_put=rpc_pb2.PutResponse(header=HDR))],
)
RANGE_10K = rpc_pb2.RangeResponse.FromString(
    rpc_pb2.RangeResponse(
        header=HDR,
        count=10000,
        kvs=[
            kv_pb2.KeyValue(
                key=b"/bench/range/%05d" % i,
                value=b"r" * 100,
                create_revision=i + 10,
                mod_revision=i + 10,
                version=1,
            )
            for i in range(10000)
        ],
    ).SerializeToString()
)
STATUS = rpc_pb2.StatusResponse(header=HDR, leader=HDR.member_id)
CANNED = {"Put": PUT, "Range": GET, "Txn": TXN, "Status": STATUS}


def _fake_member(conn: Any, is_async: bool) -> None:
    """Replace every member's gRPC callables by fakes answering CANNED[method name]."""
    for member in conn.members if hasattr(conn, "members") else [conn.member]:

        def callable_(method: Any, _m: Any = member) -> Any:
            answer = CANNED.get(method.name, PUT)
            if is_async:

                async def fn(request: Any, timeout: Any = None, metadata: Any = None) -> Any:
                    return answer

            else:

                def fn(request: Any, timeout: Any = None, metadata: Any = None) -> Any:  # type: ignore[misc]
                    return answer

            return fn

        member.callable = callable_  # type: ignore[method-assign]
        if hasattr(member, "verified"):
            member.verified = True  # as after the first successful write


def per_call_us(fn: Any, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def sync_costs(number: int) -> dict[str, tuple[float, float]]:
    client = Client(["127.0.0.1:1"])
    _fake_member(client._conn, is_async=False)
    key, value = b"/bench/k", b"v" * 100
    PutRequest, RangeRequest = rpc_pb2.PutRequest, rpc_pb2.RangeRequest

    def bare_put() -> Any:
        return PUT if PutRequest(key=key, value=value) else None

    def bare_get() -> Any:
        return GET if RangeRequest(key=key) else None

    def bare_txn() -> Any:
        cmp = rpc_pb2.Compare(
            result=rpc_pb2.Compare.EQUAL, target=rpc_pb2.Compare.VALUE, key=key, value=b"1"
        )
        op = rpc_pb2.RequestOp(request_put=PutRequest(key=key, value=b"2"))
        return TXN if rpc_pb2.TxnRequest(compare=[cmp], success=[op]) else None

    out = {
        "put": (per_call_us(lambda: client.put(key, value), number), per_call_us(bare_put, number)),
        "get": (per_call_us(lambda: client.get(key), number), per_call_us(bare_get, number)),
        "txn (compare-and-swap)": (
            per_call_us(
                lambda: (
                    client.txn().if_(Compare.value(key) == b"1").then(Op.put(key, b"2")).commit()
                ),
                number // 2,
            ),
            per_call_us(bare_txn, number // 2),
        ),
    }
    return out


def async_costs(number: int) -> dict[str, tuple[float, float]]:
    async def main() -> dict[str, tuple[float, float]]:
        client = AsyncClient(["127.0.0.1:1"])
        _fake_member(client._conn, is_async=True)
        key, value = b"/bench/k", b"v" * 100
        PutRequest, RangeRequest = rpc_pb2.PutRequest, rpc_pb2.RangeRequest

        async def fake(request: Any) -> Any:
            return PUT

        async def loop_ours_put(n: int) -> None:
            put = client.put
            for _ in range(n):
                await put(key, value)

        async def loop_bare_put(n: int) -> None:
            for _ in range(n):
                await fake(PutRequest(key=key, value=value))

        async def loop_ours_get(n: int) -> None:
            get = client.get
            for _ in range(n):
                await get(key)

        async def loop_bare_get(n: int) -> None:
            for _ in range(n):
                await fake(RangeRequest(key=key))

        loop = asyncio.get_running_loop()

        def timed(coro_fn: Any, n: int) -> float:
            import time

            best = float("inf")
            for _ in range(7):
                t0 = time.perf_counter()
                # run the coroutine to completion synchronously: no I/O happens inside
                coro = coro_fn(n)
                try:
                    coro.send(None)
                except StopIteration:
                    pass
                best = min(best, time.perf_counter() - t0)
            return best / n * 1e6

        del loop
        return {
            "put": (timed(loop_ours_put, number), timed(loop_bare_put, number)),
            "get": (timed(loop_ours_get, number), timed(loop_bare_get, number)),
        }

    return asyncio.run(main())


def pieces(number: int) -> dict[str, float]:
    """Costs of the parts (µs per call)."""
    from etcd_recipes._core.ops import put_request, range_request

    key, value = b"/bench/k", b"v" * 100
    it = {
        "put_request(key, value)  [_core/ops.py]": lambda: put_request(key, value),
        "PutRequest(key=, value=) (bare)": lambda: rpc_pb2.PutRequest(key=key, value=value),
        "range_request(key)  [_core/ops.py]": lambda: range_request(key),
        "RangeRequest(key=) (bare)": lambda: rpc_pb2.RangeRequest(key=key),
        "PutResponse._from_pb  [_core/types.py]": lambda: types.PutResponse._from_pb(PUT),
        "GetResponse._from_pb, 1 key  [_core/types.py]": lambda: types.GetResponse._from_pb(GET),
        "ResponseHeader._from_pb  [_core/types.py]": lambda: types.ResponseHeader._from_pb(HDR),
        "KeyValue._from_pb  [_core/types.py]": lambda: types.KeyValue._from_pb(KV),
    }
    out = {name: per_call_us(fn, number) for name, fn in it.items()}
    out["GetResponse._from_pb, 10,000 keys (ms)  [_core/types.py]"] = (
        per_call_us(lambda: types.GetResponse._from_pb(RANGE_10K), 5) / 1000.0
    )

    def touch() -> None:
        for kv in RANGE_10K.kvs:
            kv.key, kv.value  # noqa: B018

    out["bare: touch key+value of 10,000 pb kvs (ms)"] = per_call_us(touch, 5) / 1000.0

    def build_and_touch() -> None:
        for kv in types.GetResponse._from_pb(RANGE_10K).kvs:
            kv.key, kv.value  # noqa: B018

    out["GetResponse._from_pb, 10,000 keys, then key+value of each (ms)"] = (
        per_call_us(build_and_touch, 5) / 1000.0
    )

    def build_and_items() -> None:
        for key, value in types.GetResponse._from_pb(RANGE_10K).items():  # noqa: B007
            pass

    out["GetResponse._from_pb, 10,000 keys, then items() (ms)"] = (
        per_call_us(build_and_items, 5) / 1000.0
    )
    # timeit pauses the garbage collector; a real process does not, and a large range's new
    # objects set off collections (full ones on a big heap: more than this small process shows).
    out["GetResponse._from_pb, 10,000 keys, collector on (ms)"] = (
        min(
            timeit.repeat(
                lambda: types.GetResponse._from_pb(RANGE_10K), "gc.enable()", number=5, repeat=7
            )
        )
        / 5
        * 1e3
    )
    import grpc.aio
    from grpc.aio import _channel as aio_channel

    tuple_md = (("hasleader", "true"),)
    built_md = grpc.aio.Metadata(*tuple_md)
    base = getattr(aio_channel, "_BaseMultiCallable", None)
    init_md = getattr(base, "_init_metadata", None)
    if init_md is not None:  # what grpc.aio does with a call's metadata, per call
        out["grpc.aio metadata per call: hasleader tuple"] = per_call_us(
            lambda: init_md(tuple_md), number
        )
        out["grpc.aio metadata per call: pre-built grpc.aio.Metadata"] = per_call_us(
            lambda: init_md(built_md), number
        )
    return out


def main() -> None:
    number = 20000
    result = {
        "version": etcd_recipes.__version__,
        "path": etcd_recipes.__file__,
        "sync": sync_costs(number),
        "async": async_costs(number),
        "pieces": pieces(number),
    }
    if "--json" in sys.argv:
        json.dump(result, sys.stdout, indent=1)
        return
    print(f"etcd_recipes from {result['path']}\n")
    print("| call (RPC replaced by a canned answer) | ours µs | bare µs | ours adds µs |")
    print("|---|---|---|---|")
    for kind in ("sync", "async"):
        for verb, (ours, bare) in result[kind].items():
            print(f"| {kind} {verb} | {ours:.2f} | {bare:.2f} | {ours - bare:.2f} |")
    print()
    print("| piece | µs per call |")
    print("|---|---|")
    for name, us in result["pieces"].items():
        print(f"| {name} | {us:.2f} |")


if __name__ == "__main__":
    main()
