"""Connection state, as Curator and kazoo report it, for a client and for a lease (pure code).

* ``CONNECTED``: a round trip to the cluster succeeded recently (for a lease: its last refresh).
* ``SUSPENDED``: a call or refresh failed for connection reasons and nothing has succeeded since
  it started. A lock holder cannot be sure it still holds its lock; it should stop acting on it
  until ``CONNECTED`` again.
* ``LOST``: for a lease, etcd said the lease is gone or its TTL certainly passed (judged on a
  monotonic clock read *before* the last successful refresh was sent): final. For a client:
  not connected yet, closed, or no successful round trip for ``retry_timeout`` seconds; a
  client returns to ``CONNECTED`` at its next successful round trip.

Listeners are plain callables ``listener(state)``, called on the event loop (asyncio) or on the
thread that noticed the change (threads); keep them short and non-blocking. Changes reach the
listeners one at a time and in the order they happened: a change noticed on one thread while
another thread is calling the listeners is delivered by that thread, right after.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("etcd_recipes.state")


class ConnectionState(enum.Enum):
    """CONNECTED / SUSPENDED / LOST (see the module documentation of ``etcd_recipes``)."""

    CONNECTED = "connected"
    SUSPENDED = "suspended"
    LOST = "lost"


StateListener = Callable[[ConnectionState], Any]


class StateListeners:
    """A list of state listeners; ``notify`` calls each, logging (never raising) its errors.

    The owner of the state calls ``queue(state)`` while it holds the lock that guards its state
    (so changes queue in the order they happened) and ``deliver()`` once it released it (so a
    listener may read the state): each change is delivered once, in order, by one thread at a
    time. ``notify(state)`` does both.
    """

    __slots__ = ("_delivering", "_items", "_mutex", "_pending", "_what")

    def __init__(self, what: str) -> None:
        self._items: list[StateListener] = []
        self._what = what
        self._pending: deque[ConnectionState] = deque()
        self._delivering = False
        self._mutex = threading.Lock()

    def add(self, listener: StateListener) -> None:
        """Register ``listener`` (once; adding it again does nothing)."""
        if not callable(listener):
            raise TypeError(f"a state listener must be callable, not {listener!r}")
        if listener not in self._items:
            self._items.append(listener)

    def remove(self, listener: StateListener) -> None:
        """Unregister ``listener`` (no error if it was not registered)."""
        try:
            self._items.remove(listener)
        except ValueError:
            pass

    def __len__(self) -> int:
        return len(self._items)

    def queue(self, state: ConnectionState) -> None:
        """Queue ``state`` for delivery (call it where the state changed, under its lock)."""
        with self._mutex:
            self._pending.append(state)

    def deliver(self) -> None:
        """Call the listeners with every queued state, in order -- unless another thread (or an
        outer call on this one: a listener that changed the state) is delivering: it will."""
        with self._mutex:
            if self._delivering:
                return
            self._delivering = True
        while True:
            with self._mutex:
                if not self._pending:
                    self._delivering = False
                    return
                state = self._pending.popleft()
            for listener in list(self._items):
                try:
                    listener(state)
                except Exception:
                    log.exception("%s state listener %r failed", self._what, listener)

    def notify(self, state: ConnectionState) -> None:
        """Call every listener with ``state`` (after any change queued before it)."""
        self.queue(state)
        self.deliver()
