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
thread that noticed the change (threads); keep them short and non-blocking.
"""

from __future__ import annotations

import enum
import logging
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
    """A list of state listeners; ``notify`` calls each, logging (never raising) its errors."""

    __slots__ = ("_items", "_what")

    def __init__(self, what: str) -> None:
        self._items: list[StateListener] = []
        self._what = what

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

    def notify(self, state: ConnectionState) -> None:
        """Call every listener with ``state``."""
        for listener in list(self._items):
            try:
                listener(state)
            except Exception:
                log.exception("%s state listener %r failed", self._what, listener)
