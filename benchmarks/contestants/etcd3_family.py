"""Worker for python-etcd3 (``--module etcd3``) and its maintained fork etcd-sdk-python
(``--module pyetcd``): the same sync API, threads for concurrency."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h

MODULE = sys.argv[sys.argv.index("--module") + 1]
DIST = {"etcd3": "etcd3", "pyetcd": "etcd-sdk-python"}[MODULE]
lib: Any = importlib.import_module(MODULE)


class Adapter:
    NA = {
        "election": f"{DIST} has no election recipe",
    }

    def __init__(self, endpoint: str) -> None:
        host, port = endpoint.rsplit(":", 1)
        self.c = lib.client(host=host, port=int(port))
        self.put = self.c.put
        self.get = self.c.get
        self.tx = self.c.transactions
        self._locks: dict[str, Any] = {}

    def range_count(self, prefix: bytes) -> int:
        return sum(1 for _ in self.c.get_prefix(prefix))

    def cas(self, key: bytes, old: bytes, new: bytes) -> bool:
        ok, _ = self.c.transaction(
            compare=[self.tx.value(key) == old], success=[self.tx.put(key, new)], failure=[]
        )
        return bool(ok)

    def watch_prefix(self, prefix: bytes, sink: Any) -> Any:
        def callback(response: Any) -> None:
            if isinstance(response, Exception):
                return
            for event in response.events:
                sink(event.value)

        watch_id = self.c.add_watch_prefix_callback(prefix, callback)
        return lambda: self.c.cancel_watch(watch_id)

    def lease_grant(self, ttl: int) -> Any:
        return self.c.lease(ttl)

    def lease_id(self, lease: Any) -> int:
        return int(lease.id)

    def lease_keepalive(self, leases: list[Any]) -> Any:
        """No background keep-alive in this client: a thread refreshes every lease each ttl/3
        with ``lease.refresh()`` (one LeaseKeepAlive stream per call), as a user would."""
        stop = threading.Event()
        interval = max(leases[0].ttl / 3.0, 0.2) if leases else 1.0

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
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = self.c.lock(name, ttl=10)
        if not lock.acquire(timeout=None):
            raise RuntimeError("lock not acquired")
        return lock

    def lock_release(self, lock: Any) -> None:
        lock.release()

    def close(self) -> None:
        self.c.close()


if __name__ == "__main__":
    note = ""
    if MODULE == "etcd3":
        note = "; PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=" + os.environ.get(
            "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "(unset)"
        )
    info = {
        "library": f"{DIST} {h.version_of(DIST)}",
        "grpcio": h.version_of("grpcio"),
        "protobuf": h.protobuf_info() + note,
        "tenacity": h.version_of("tenacity"),
        "api": "sync (threads)",
    }
    h.serve_sync(Adapter, info)
