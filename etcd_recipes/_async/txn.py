"""The If/Then/Else transaction builder, read like Go's ``Txn(ctx).If().Then().Else().Commit()``."""

from __future__ import annotations

from .._core import types
from .._core.ops import Compare, Op, txn_request
from .._exceptions import InvalidArgumentError
from ._connection import AsyncConnection


class AsyncTxn:
    """A transaction under construction. ``if_`` takes compares (all must hold), ``then`` the
    ops run when they do, ``else_`` the ops run otherwise; ``commit`` sends it atomically::

        client.txn().if_(Compare.value("/hi") == "hello").then(Op.get("/hi")).else_(
            Op.get("/test/", prefix=True)).commit()

    Each part may be given once, in that order (as in Go).
    """

    __slots__ = ("_compares", "_conn", "_failure", "_stage", "_success", "_timeout")

    def __init__(self, conn: AsyncConnection, timeout: float | None = None) -> None:
        self._conn = conn
        self._timeout = timeout
        self._compares: tuple[Compare, ...] = ()
        self._success: tuple[Op, ...] = ()
        self._failure: tuple[Op, ...] = ()
        self._stage = 0

    def _advance(self, stage: int, name: str) -> None:
        if self._stage >= stage:
            raise InvalidArgumentError(f"{name}() cannot be called after {_STAGES[self._stage]}()")
        self._stage = stage

    def if_(self, *compares: Compare) -> AsyncTxn:
        """Conditions that must all hold for ``then`` to run."""
        self._advance(1, "if_")
        self._compares = compares
        return self

    def then(self, *ops: Op) -> AsyncTxn:
        """Operations run when every compare holds."""
        self._advance(2, "then")
        self._success = ops
        return self

    def else_(self, *ops: Op) -> AsyncTxn:
        """Operations run when a compare fails."""
        self._advance(3, "else_")
        self._failure = ops
        return self

    async def commit(self) -> types.TxnResponse:
        """Send the transaction; ``.succeeded`` tells which branch ran."""
        conn = self._conn
        request = txn_request(self._compares, self._success, self._failure)
        mutating = any(
            op._pb.WhichOneof("request") != "request_range"
            for op in (*self._success, *self._failure)
        )
        response = await conn.unary(conn.kv.Txn, request, self._timeout, mutating, "txn")
        return types.TxnResponse._from_pb(response)


_STAGES = {0: "txn", 1: "if_", 2: "then", 3: "else_"}
