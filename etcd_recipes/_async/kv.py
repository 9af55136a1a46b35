"""Key-value verbs: put, get, delete, compact and transactions (``client.kv`` or ``client``)."""

from __future__ import annotations

from typing import Any

from .._core import types
from .._core.keys import KeyLike
from .._core.ops import SortOrder, SortTarget, delete_request, put_request, range_request
from .._exceptions import InvalidArgumentError
from .._pb import rpc_pb2
from ._connection import AsyncConnection
from .txn import AsyncTxn


class AsyncKV:
    """etcd's KV service. Keys and values take ``str`` (UTF-8) or ``bytes``; responses are typed
    immutable objects. Every verb takes ``timeout=`` (seconds) for that call."""

    _conn: AsyncConnection

    async def put(
        self,
        key: KeyLike,
        value: KeyLike,
        *,
        lease: Any = None,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
        timeout: float | None = None,
    ) -> types.PutResponse:
        """Write ``value`` at ``key``; ``lease`` (an id or a lease object) binds the key to a
        lease, ``prev_kv`` returns the overwritten pair."""
        conn = self._conn
        request = put_request(
            key,
            value,
            lease=lease,
            prev_kv=prev_kv,
            ignore_value=ignore_value,
            ignore_lease=ignore_lease,
        )
        response = await conn.unary(conn.kv.Put, request, timeout, True, "put")
        return types.PutResponse._from_pb(response)

    async def get(
        self,
        key: KeyLike,
        *,
        prefix: bool = False,
        range_end: KeyLike | None = None,
        from_key: bool = False,
        limit: int = 0,
        revision: int = 0,
        sort_order: SortOrder = SortOrder.NONE,
        sort_target: SortTarget = SortTarget.KEY,
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
        timeout: float | None = None,
    ) -> types.GetResponse:
        """Read ``key``, or every key under it with ``prefix=True``, or ``[key, range_end)``.

        ``revision`` reads the store as it was then; ``serializable`` answers from the member's
        local copy (faster, possibly stale: never decide on it); ``limit``, sorting,
        ``keys_only``, ``count_only`` and the min/max revision filters are etcd's Range options.
        """
        conn = self._conn
        request = range_request(
            key,
            prefix=prefix,
            range_end=range_end,
            from_key=from_key,
            limit=limit,
            revision=revision,
            sort_order=sort_order,
            sort_target=sort_target,
            serializable=serializable,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
            max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )
        response = await conn.unary(conn.kv.Range, request, timeout, False, "get")
        return types.GetResponse._from_pb(response)

    async def delete(
        self,
        key: KeyLike,
        *,
        prefix: bool = False,
        range_end: KeyLike | None = None,
        from_key: bool = False,
        prev_kv: bool = False,
        timeout: float | None = None,
    ) -> types.DeleteResponse:
        """Delete ``key`` (or a prefix / range); ``prev_kv`` returns the deleted pairs."""
        conn = self._conn
        request = delete_request(
            key, prefix=prefix, range_end=range_end, from_key=from_key, prev_kv=prev_kv
        )
        response = await conn.unary(conn.kv.DeleteRange, request, timeout, True, "delete")
        return types.DeleteResponse._from_pb(response)

    async def compact(
        self, revision: int, *, physical: bool = False, timeout: float | None = None
    ) -> types.CompactResponse:
        """Discard history before ``revision``; ``physical`` waits until it is purged."""
        if not isinstance(revision, int) or revision <= 0:
            raise InvalidArgumentError(f"revision must be a positive int, not {revision!r}")
        conn = self._conn
        request = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        response = await conn.unary(conn.kv.Compact, request, timeout, True, "compact")
        return types.CompactResponse._from_pb(response)

    def txn(self, *, timeout: float | None = None) -> AsyncTxn:
        """Start a transaction: ``.if_(compares).then(ops).else_(ops).commit()``."""
        return AsyncTxn(self._conn, timeout)
