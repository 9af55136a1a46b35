"""Semaphore: at most ``limit`` holders at once, admitted in arrival order.

Keys: like ``AsyncLock``'s, ``<namespace><name>/<lease hex>`` bound to each contender's session
lease; the holders are the ``limit`` keys with the lowest create revisions, so the order is
first come, first served, and each holder's create revision is its fencing token.

Requests: acquire is one transaction, ``If(create_revision(myKey) == 0) Then(put(myKey),
count(<name>/)) Else(get(myKey), count(<name>/))``: held at once when at most ``limit`` keys
exist. A waiter reads its own key and up to ``limit`` keys older than its own; while there are
``limit`` of them it watches DELETEs under ``<name>/`` from that read's header revision + 1 and
reads again. A release therefore wakes every waiter for one cheap read (a semaphore's waiters
cannot know which holder leaves first); only the oldest waiters get in.

Every process must use the same ``limit`` for a name: the limit is not stored in etcd.

Error handling: as ``AsyncLock`` (see ``lock.py``): a failed or cancelled acquire deletes its key,
a lost session raises ``SessionExpiredError`` while waiting and ``LockLostError`` on release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._core.keys import KeyLike
from ..._core.ops import Op, SortOrder, SortTarget
from ..._core.types import GetResponse, KeyValue
from ..._exceptions import InvalidArgumentError
from .lock import AsyncLock

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["AsyncSemaphore"]


class AsyncSemaphore(AsyncLock):
    """A counting semaphore (``client.semaphore(name, limit)``); one object is one holder::

        async with client.semaphore("downloads", 3, timeout=30):
            ...

    The API and options are ``AsyncLock``'s; ``holders()`` lists the current holders.
    """

    def __init__(self, client: AsyncClient, name: KeyLike, limit: int, **options: Any) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidArgumentError(f"limit must be an int >= 1, not {limit!r}")
        super().__init__(client, name, **options)
        self.limit = limit

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f" limit={self.limit}>"

    def _enqueue_check(self) -> Op:
        return Op.get(self.prefix, prefix=True, count_only=True)

    def _ready_at_enqueue(self, check: GetResponse, rev: int) -> bool:
        return check.count <= self.limit  # we are among them, so at most limit - 1 are older

    def _blocker_at_enqueue(self, check: GetResponse, rev: int) -> tuple[bytes, int] | None:
        return None  # a count does not name the blocker: read it

    def _blocker_read(self, rev: int) -> Op:
        # etcd counts a range before its revision filters: fetch (at most limit) keys instead.
        return Op.get(
            self.prefix, prefix=True, max_create_revision=rev - 1, limit=self.limit, keys_only=True
        )

    def _blocker(self, read: GetResponse) -> tuple[bytes, int] | None:
        return (self.prefix, 0) if len(read.kvs) >= self.limit else None  # any DELETE under it

    async def holders(self) -> list[KeyValue]:
        """The current holders' keys, oldest first (values are their ``identifier``)."""
        response = await self.client.get(
            self.prefix,
            prefix=True,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.ASCEND,
            limit=self.limit,
        )
        return list(response.kvs)
