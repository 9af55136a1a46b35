# GENERATED from tests/async_/helpers.py by scripts/unasync.py -- do not edit.
"""Helpers shared by the recipe tests (generated into tests/sync/helpers.py like the tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from etcd_recipes import Client, Watcher, WatchOverflowError
from etcd_recipes._sync import _backend as backend


class Outcome:
    """Runs a call in the background (a task / a thread); ``done`` is set when it returns."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = backend.Event()
        self.task = backend.spawn(self._run, func, *args)

    def _run(self, func: Callable[..., Any], *args: Any) -> None:
        try:
            self.result = func(*args)
        except BaseException as error:  # kept for wait() (cancellation included)
            self.error = error
        finally:
            self.done.set()

    def wait(self, timeout: float = 5) -> Any:
        assert backend.wait_event(self.done, timeout), "the call did not return in time"
        if self.error is not None:
            raise self.error
        return self.result


def wait_count(client: Client, prefix: str, count: int, timeout: float = 10) -> None:
    """Wait (bounded) until exactly ``count`` keys exist under ``prefix``."""
    deadline = time.monotonic() + timeout
    response = client.get(prefix, prefix=True, count_only=True)
    with client.watch(prefix, prefix=True, start_revision=response.header.revision + 1) as w:
        while (client.get(prefix, prefix=True, count_only=True)).count != count:
            w.read(max(deadline - time.monotonic(), 0.01))


def read_past_overflow(
    client: Client, watcher: Watcher, prefix: str, seen: list[bytes], total: int
) -> int:
    """Read ``watcher``'s values into ``seen`` until it raises WatchOverflowError, then watch
    ``prefix`` again from the error's ``next_revision`` until ``seen`` holds ``total`` values
    (bounded reads). Returns how many were seen when the overflow was raised."""
    with pytest.raises(WatchOverflowError) as info:
        while True:
            seen += [e.value for e in watcher.events(timeout=5.0)]
    at_overflow = len(seen)
    with client.watch(prefix, prefix=True, start_revision=info.value.next_revision) as rest:
        while len(seen) < total:
            seen += [e.value for e in rest.events(timeout=5.0)]
    return at_overflow
