"""Worker for etcd3gw: etcd's JSON/HTTP gateway (/v3/...) through requests; threads."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import base64

import _harness as h
import etcd3gw
import requests
from requests.adapters import HTTPAdapter


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Adapter:
    NA = {
        "lock_contend": "etcd3gw's Lock.acquire() is a single try (no waiting for the holder)",
        "election": "etcd3gw has no election recipe",
    }

    def __init__(self, endpoint: str) -> None:
        host, port = endpoint.rsplit(":", 1)
        session = requests.Session()
        # requests keeps 10 connections per host by default; give every thread its own.
        session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=256))
        self.c = etcd3gw.client(host=host, port=int(port), session=session)
        self.put = self.c.put
        self.get = self.c.get

    def range_count(self, prefix: bytes) -> int:
        return len(self.c.get_prefix(prefix))

    def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        txn = {
            "compare": [
                {"key": _b64(key), "result": "EQUAL", "target": "VALUE", "value": _b64(old)}
            ],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(new)}}],
        }
        return bool(self.c.transaction(txn).get("succeeded", False))

    def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        events, cancel = self.c.watch_prefix(prefix)
        probed = threading.Event()

        def reader() -> None:
            for event in events:
                value = event["kv"].get("value", b"")
                if value == b"probe":
                    probed.set()
                    continue
                sink(value)

        threading.Thread(target=reader, daemon=True).start()
        # The watch exists once the HTTP stream is open; probe until an event comes through.
        for _ in range(100):
            self.c.put(prefix + b"~probe", b"probe")
            if probed.wait(0.1):
                break
        else:
            raise RuntimeError("watch did not deliver the probe")
        return cancel

    def lease_grant(self, ttl: int) -> Any:
        return self.c.lease(ttl)

    def lease_id(self, lease: Any) -> int:
        return int(lease.id)

    def lease_keepalive(self, leases: list[Any]) -> Any:
        """No background keep-alive in etcd3gw: a thread refreshes each lease every ttl/3 with
        ``lease.refresh()`` (one HTTP POST each)."""
        stop = threading.Event()
        interval = 1.0

        def loop() -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                for lease in leases:
                    if stop.is_set():
                        return
                    lease.refresh()
                stop.wait(max(0.0, interval - (time.monotonic() - t0)))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(30)

        return halt

    def lease_revoke(self, lease: Any) -> None:
        lease.revoke()

    def lock_acquire(self, name: str) -> Any:
        lock = self.c.lock(name, ttl=10)
        if not lock.acquire():
            raise RuntimeError("lock not acquired (uncontended)")
        return lock

    def lock_release(self, lock: Any) -> None:
        lock.release()


if __name__ == "__main__":
    info = {
        "library": f"etcd3gw {h.version_of('etcd3gw')} (HTTP/JSON gateway via requests {h.version_of('requests')})",
        "api": "sync (threads)",
    }
    h.serve_sync(Adapter, info)
