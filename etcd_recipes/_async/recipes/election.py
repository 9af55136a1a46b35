"""Leader election, compatible with Go's ``concurrency.Election`` and ``etcdctl elect``.

Keys: each candidate puts ``<name>/<lease id hex>`` (value: its proposal) bound to its session's
lease. The leader is the key with the lowest create revision under ``<name>/``; that revision is
the leader's *term*, a fencing token that grows with every new leader. (``K`` = own key,
``T`` = its create revision, ``P`` = ``<name>/``.)

- campaign: ``Txn If(create_revision(K) == 0) Then(Put K, Get P newest-created 2)
  Else(Get K)``: one round trip joins, and wins when no older key exists.
- wait: watch only the predecessor (the newest key older than ``K``) for its delete, from the
  revision of the read that saw it + 1 (a watch that starts at or below the store's revision
  is "unsynced" and served by etcd's ~100 ms catch-up loop; nothing is missed from + 1). Then
  ``Txn If(create_revision(K) == T) Then(Get P newest-created 1, max_create_revision T - 1)``:
  if ``K`` is gone the session died while we waited, and we say so instead of returning as
  leader (Go's Campaign lacks this re-check); if nothing older is left, we lead.
- lead: a watch on ``K``'s delete, and the session's loss, end the term (``on_lost``).
- proclaim: ``Txn If(create_revision(K) == T) Then(Put K)``; resign: ``... Then(Delete K)``;
  ``is_leader()`` returns ``create_revision(K) == T`` for the caller's own guarded writes.
- leader() / observe(): ``Get P`` then (observe) ``Watch P`` from the Get's revision + 1.

Callbacks: ``on_elected(info)`` and ``on_lost(info, reason)`` run once per term, in that order,
on the term's guard -- a task on the event loop (asyncio) or a thread named ``etcd-election``
(sync) -- never concurrently with each other; the next term's guard starts after the last one
ended. Exceptions they raise are logged (logger ``etcd_recipes.election``) and ignored.

Error handling: reads are retried on connection trouble and watches resume on any member from
where they stopped, so a member failing costs latency, not correctness. ``campaign`` that times
out, is cancelled or fails deletes its own key before raising (if that delete fails too, a
session the election owns is closed so its lease, and the key, expire within ``ttl``).
``campaign`` raises ElectionSessionLostError if the session dies while it waits. A leader learns
it lost when its key is deleted (resign, an operator, lease expiry) or its session is lost
(``ttl`` without a successful refresh, judged on the local monotonic clock -- ``leading`` turns
False at that instant, even before ``on_lost`` runs). Anything done as leader must be fenced:
put ``is_leader()`` in the transaction, and etcd refuses the write once the key is gone, whatever
this process believes. ``proclaim``/``resign`` may raise EtcdError on connection trouble; a
failed resign leaves us leading (the guard keeps watching).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ParamSpec

from ..._core import types
from ..._core.election import (
    CampaignAbortedError,
    ElectionSessionLostError,
    LeaderInfo,
    LeaderTracker,
    LossReason,
    NotLeaderError,
    candidate_key,
    election_prefix,
)
from ..._core.keys import KeyLike, to_bytes
from ..._core.ops import Compare, Op, SortOrder, SortTarget
from ..._exceptions import (
    ClientClosedError,
    CompactedError,
    EtcdConnectionError,
    EtcdError,
    EtcdTimeoutError,
    InvalidArgumentError,
)
from .. import _backend as backend
from ..watch import AsyncWatcher
from .session import AsyncSession

if TYPE_CHECKING:
    from ..client import AsyncClient

log = logging.getLogger("etcd_recipes.election")

P = ParamSpec("P")
ElectedCallback = Callable[[LeaderInfo], Any]
LostCallback = Callable[[LeaderInfo, LossReason], Any]

_IDLE, _CAMPAIGNING, _LEADING = "idle", "campaigning", "leading"
_NEWEST = {"sort_target": SortTarget.CREATE, "sort_order": SortOrder.DESCEND}


class AsyncElection:
    """A leader election among every process campaigning on ``name`` (Go- and etcdctl-compatible).

    Go's verbs: ``campaign(value)`` blocks until elected, ``proclaim(value)``, ``resign()``,
    ``leader()``, ``observe()``. Fencing: ``term`` and ``is_leader()``. Services: ``on_elected``
    / ``on_lost`` callbacks with ``run()`` / ``start()`` (campaign again after every loss until
    ``stop()``), ``@election.leader_only`` and ``async with election.leadership(value)``.

    ``ttl``: seconds of the session the election creates (and renews after a loss) when no
    ``session`` is given; a given session stays the caller's (never closed here, and its loss
    ends the election). See the module docstring for keys, threads and error handling.
    """

    def __init__(
        self,
        client: AsyncClient,
        name: KeyLike,
        *,
        ttl: int = 60,
        session: AsyncSession | None = None,
        on_elected: ElectedCallback | None = None,
        on_lost: LostCallback | None = None,
    ) -> None:
        self._client = client
        self.name = name
        self._prefix = election_prefix(name)
        self._ttl = ttl
        self._session = session
        self._owns_session = session is None
        self._hooked: AsyncSession | None = None
        self.on_elected = on_elected
        self.on_lost = on_lost
        self._mutex = threading.Lock()  # held only for a few assignments, never across a wait
        self._state = _IDLE
        self._key = b""
        self._term = 0
        self._value = b""
        self._mod_revision = 0
        self._abort = False
        self._resign_pending = False
        self._resigned = False
        self._stopping = False
        self._running = False
        self._closed = False
        self._stop_event = backend.Event()
        self._guard: backend.Task | None = None
        self._runner: backend.Task | None = None
        self._waiting: set[AsyncWatcher] = set()
        self._woken: set[AsyncWatcher] = set()
        self._wakers: list[backend.Task] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._prefix!r} {self._state} term={self._term}>"

    # ------------------------------------------------------------------ state

    @property
    def leading(self) -> bool:
        """True while this process leads, as far as it knows: elected, not resigned, and the
        session's lease certainly alive (its deadline on the monotonic clock not yet passed)."""
        session = self._session
        return (
            self._state == _LEADING
            and not self._resigned
            and session is not None
            and not _expired(session)
        )

    @property
    def term(self) -> int | None:
        """Our term (the leader key's create revision: the fencing token) while leading."""
        return self._term if self.leading else None

    @property
    def key(self) -> bytes | None:
        """Our candidate key while campaigning or leading."""
        return self._key if self._state != _IDLE else None

    @property
    def session(self) -> AsyncSession | None:
        """The session our key is bound to (None before the first campaign)."""
        return self._session

    def is_leader(self) -> Compare:
        """A compare that holds only while we lead, to guard writes made as leader::

        await client.txn().if_(election.is_leader()).then(Op.put(k, v)).commit()

        Raises NotLeaderError when not leading.
        """
        if not self.leading:
            raise NotLeaderError(f"not the leader of {self._prefix!r}")
        return Compare.create_revision(self._key) == self._term

    def _info(self) -> LeaderInfo:
        lease = self._session.lease_id if self._session is not None else 0
        return LeaderInfo(self._key, self._value, self._term, lease, self._mod_revision)

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("the election is closed")

    # ------------------------------------------------------------------ campaign

    async def campaign(self, value: KeyLike = b"", *, timeout: float | None = None) -> LeaderInfo:
        """Become a candidate with ``value`` and wait (at most ``timeout`` s) until elected.

        Returns our LeaderInfo (its ``term`` is the fencing token). On timeout (EtcdTimeoutError),
        cancellation or error our key is deleted first. Raises ElectionSessionLostError if the
        session dies meanwhile, CampaignAbortedError if ``resign``/``stop``/``close`` ended it.
        Already leading: proclaims ``value`` if it differs and returns at once.
        """
        self._check_open()
        raw = to_bytes(value)
        if self.leading:
            if raw != self._value:
                await self.proclaim(raw)
            return self._info()
        deadline = None if timeout is None else backend.monotonic() + timeout
        await self._join_guard()  # the previous term's on_lost has run
        with self._mutex:
            if self._state != _IDLE:
                raise InvalidArgumentError("campaign() is already running on this election")
            self._state, self._abort, self._resign_pending, self._resigned = (
                _CAMPAIGNING,
                False,
                False,
                False,
            )
        try:
            session = await self._ensure_session()
            self._key, self._value = candidate_key(self.name, session.lease_id), raw
            revision = await self._campaign(session, deadline)
            info = self._info()
            with self._mutex:
                error = self._aborted(session)
                if error is None:
                    self._state = _LEADING
                    self._guard = backend.spawn(
                        self._lead, info, session, revision + 1, name="etcd-election"
                    )
            if error is not None:
                raise error
        except BaseException:
            await self._abandon()
            raise
        return info

    async def _campaign(self, session: AsyncSession, deadline: float | None) -> int:
        """Join and wait until no older key is left; returns the revision at which we led."""
        key, prefix = self._key, self._prefix
        joined = await (
            self._client.txn(timeout=_left(deadline))
            .if_(Compare.create_revision(key) == 0)
            .then(
                Op.put(key, self._value, lease=session.lease_id),
                Op.get(prefix, prefix=True, limit=2, **_NEWEST),
            )
            .else_(Op.get(key))
            .commit()
        )
        revision = joined.header.revision
        predecessor: bytes | None = None
        if joined.succeeded:  # our key is new: [ours, the predecessor if any]
            self._term = self._mod_revision = revision
            newest = _kvs(joined, 1)
            if len(newest) == 1:
                return revision
            predecessor = newest[1].key
        else:  # our session already had a key here (Go: keep it, update its value)
            mine = _kvs(joined, 0)[0]
            self._term, self._mod_revision = mine.create_revision, mine.mod_revision
            if mine.value != self._value:
                try:
                    await self._put_value(self._value, _left(deadline))
                except NotLeaderError:
                    raise ElectionSessionLostError(f"our key {key!r} vanished") from None
        while True:
            if predecessor is None:
                check = await (
                    self._client.txn(timeout=_left(deadline))
                    .if_(Compare.create_revision(key) == self._term)
                    .then(
                        Op.get(
                            prefix,
                            prefix=True,
                            limit=1,
                            **_NEWEST,
                            max_create_revision=self._term - 1,
                        )
                    )
                    .commit()
                )
                if not check.succeeded:
                    raise ElectionSessionLostError(
                        f"our key {key!r} vanished while campaigning (the session died)"
                    )
                revision = check.header.revision
                older = _kvs(check, 0)
                if not older:
                    return revision
                predecessor = older[0].key
            error = self._aborted(session)
            if error is not None:
                raise error
            await self._wait_deleted(
                predecessor,
                revision + 1,
                deadline,
                lambda: self._aborted(session) is not None,
                session,
            )
            predecessor = None

    def _aborted(self, session: AsyncSession) -> EtcdError | None:
        """Why the running campaign must stop now, if it must."""
        if self._closed or self._stopping or self._abort:
            return CampaignAbortedError("the campaign was ended by resign(), stop() or close()")
        if _expired(session):
            return ElectionSessionLostError("the session was lost while campaigning")
        return None

    async def _abandon(self) -> None:
        """After a failed campaign: delete our key (it may exist), back to idle."""
        key, session = self._key, self._session
        try:
            if key and session is not None and not session.lost:
                await self._client.delete(key)
        except EtcdError as error:
            log.warning("could not delete candidate key %r: %s", key, error)
            if self._owns_session and session is not None:
                await session.close()  # stops the keep-alive: the key expires with the lease
        finally:
            with self._mutex:
                self._state, self._key, self._term = _IDLE, b"", 0

    async def _ensure_session(self) -> AsyncSession:
        session = self._session
        if session is not None and (session.lost or (session.is_alive and _expired(session))):
            if not self._owns_session:
                raise ElectionSessionLostError("the session given to this election is lost")
            await session.close()  # stop refreshing a lease we no longer trust
            session = None
        if session is None:
            session = self._client.session(self._ttl)
            self._session = session
        await session.start()
        if self._hooked is not session:
            self._hooked = session
            session.add_lost_callback(lambda _: self._wake())
        return session

    # ------------------------------------------------------------------ leading

    async def _lead(self, info: LeaderInfo, session: AsyncSession, revision: int) -> None:
        """The term's guard: on_elected, wait for the end of the term, on_lost."""
        _call(self.on_elected, info)
        reason = await self._watch_term(info, session, revision)
        with self._mutex:
            self._state, self._key, self._term = _IDLE, b"", 0
        log.info("lost leadership of %r (term %d): %s", self._prefix, info.term, reason.value)
        _call(self.on_lost, info, reason)

    async def _watch_term(
        self, info: LeaderInfo, session: AsyncSession, revision: int
    ) -> LossReason:
        def ended() -> bool:
            return self._resigned or self._closed or _expired(session)

        while True:
            try:
                deleted = await self._wait_deleted(info.key, revision, None, ended, session)
            except ClientClosedError:
                return LossReason.CLOSED
            if deleted is None:  # history compacted or watch cancelled: look at the key
                try:
                    now = await self._client.get(info.key)
                except ClientClosedError:
                    return LossReason.CLOSED
                except EtcdError:
                    await backend.wait_event(self._stop_event, 0.1)
                    continue
                if now.kv is not None and now.kv.create_revision == info.term:
                    revision = now.header.revision + 1
                    continue
                deleted = True
            if deleted:
                pending = self._resign_pending or self._resigned
                return LossReason.RESIGNED if pending else LossReason.KEY_DELETED
            if self._resigned:
                return LossReason.RESIGNED
            return LossReason.SESSION_LOST if _expired(session) else LossReason.CLOSED

    async def proclaim(self, value: KeyLike) -> None:
        """Change the leader's value without a new election; NotLeaderError if not leading."""
        if not self.leading:
            raise NotLeaderError(f"not the leader of {self._prefix!r}")
        await self._put_value(to_bytes(value), None)

    async def _put_value(self, value: bytes, timeout: float | None) -> None:
        session = self._session
        assert session is not None
        response = await (
            self._client.txn(timeout=timeout)
            .if_(Compare.create_revision(self._key) == self._term)
            .then(Op.put(self._key, value, lease=session.lease_id))
            .commit()
        )
        if not response.succeeded:
            raise NotLeaderError(f"our key {self._key!r} is gone: leadership was lost")
        self._value, self._mod_revision = value, response.header.revision

    async def resign(self) -> None:
        """Give up leadership at once (the next candidate takes over), or end a running campaign.

        When leading, returns after ``on_lost(info, RESIGNED)`` has run. Does nothing otherwise.
        """
        with self._mutex:
            state, key, term = self._state, self._key, self._term
            if state == _CAMPAIGNING:
                self._abort = True
            elif state == _LEADING and not self._resigned:
                self._resign_pending = True
            else:
                return
        if state == _CAMPAIGNING:
            self._wake()  # the campaign deletes its key on its way out
            return
        try:
            await (
                self._client.txn()
                .if_(Compare.create_revision(key) == term)
                .then(Op.delete(key))
                .commit()
            )
        except BaseException:
            self._resign_pending = False
            raise
        self._resigned = True  # before clearing "pending": the guard reads them in this order
        self._resign_pending = False
        self._wake()
        await self._join_guard()

    async def _join_guard(self) -> None:
        guard = self._guard
        if guard is not None:
            await guard.join()

    # ------------------------------------------------------------------ waiting

    async def _wait_deleted(
        self,
        key: bytes,
        revision: int,
        deadline: float | None,
        ended: Callable[[], bool],
        session: AsyncSession,
    ) -> bool | None:
        """Wait for ``key``'s delete at ``revision`` or later: True once seen, False if ``ended()``
        came first or the session's lease deadline passed, None if unknown (history compacted,
        watch cancelled). EtcdTimeoutError at ``deadline``. ``_wake()`` interrupts the wait so
        that ``ended()`` is looked at again.

        Reads time out at the session lease's deadline (so a lost session is noticed even if
        the keep-alive has not said so yet) and the same watch goes on: what it received stays
        queued. A new watch starts from ``revision`` again: only deletes pass the filter, and
        the first one ends the wait, so nothing is replayed and nothing unread is skipped.
        """
        while not ended():
            watcher = self._client.watch(
                key,
                start_revision=revision,
                filters=[types.WatchFilter.NOPUT],
                timeout=_until(deadline, session),
            )
            try:
                async with watcher:
                    self._waiting.add(watcher)
                    while not ended():
                        try:
                            response = await watcher.read(_until(deadline, session))
                        except ClientClosedError:
                            if watcher not in self._woken:
                                raise  # the client is closing
                            break  # woken by _wake(): look at ended() again
                        except EtcdTimeoutError:
                            if _out_of_time(deadline, session):
                                return False
                            continue
                        if any(e.type is types.EventType.DELETE for e in response.events):
                            return True
            except EtcdTimeoutError:  # the watch was not confirmed in time
                if _out_of_time(deadline, session):
                    return False
            except (ClientClosedError, InvalidArgumentError):
                raise
            except EtcdError:  # compacted, cancelled, connection trouble: look again
                return None
            finally:
                self._waiting.discard(watcher)
                self._woken.discard(watcher)
        return False

    def _wake(self) -> None:
        """Interrupt every wait of this election (called on session loss, resign, stop, close)."""
        self._wakers = [task for task in self._wakers if not task.done()]
        for watcher in list(self._waiting):
            self._woken.add(watcher)
            self._wakers.append(backend.spawn(watcher.cancel, name="etcd-election-wake"))

    # ------------------------------------------------------------------ services

    async def run(self, value: KeyLike = b"") -> None:
        """Campaign, lead until the term ends, and campaign again, until ``stop()``/``close()``
        (or cancellation). Errors are logged and retried with backoff; a lost session the
        election owns is replaced; a lost session it was given ends ``run`` with
        ElectionSessionLostError."""
        self._check_open()
        self._stopping = False
        self._stop_event.clear()
        await self._run(value)

    async def _run(self, value: KeyLike) -> None:
        self._running = True
        delay = _RETRY_MIN
        try:
            while not self._stopping and not self._closed:
                try:
                    await self.campaign(value)
                except CampaignAbortedError:
                    continue
                except ElectionSessionLostError:
                    if not self._owns_session:
                        raise
                    continue
                except (EtcdConnectionError, EtcdTimeoutError) as error:
                    log.warning("campaign for %r failed (%s); retrying", self._prefix, error)
                    await backend.wait_event(self._stop_event, delay)
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
                delay = _RETRY_MIN
                await self._join_guard()  # until the term ends (on_lost has run)
        finally:
            self._running = False
            if self._state == _LEADING:
                await self.resign()

    async def start(self, value: KeyLike = b"") -> AsyncElection:
        """Run ``run(value)`` in the background (a task / a thread named ``etcd-election-run``)."""
        self._check_open()
        if self._runner is not None and not self._runner.done():
            raise InvalidArgumentError("this election is already running")
        self._stopping = False
        self._stop_event.clear()
        self._runner = backend.spawn(self._run, value, name="etcd-election-run")
        return self

    async def stop(self) -> None:
        """End ``run()``/``start()``: resign (``on_lost`` runs) or abandon the campaign."""
        self._stopping = True
        self._stop_event.set()
        self._wake()
        await self.resign()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.join()
        await self._join_guard()
        if not self._running:
            self._stopping = False

    def leader_only(self, func: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[Any]]:
        """Decorator: the function runs only while we lead; otherwise it returns None at once."""

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if not self.leading:
                return None
            return await func(*args, **kwargs)

        return wrapper

    @asynccontextmanager
    async def leadership(
        self, value: KeyLike = b"", *, timeout: float | None = None
    ) -> AsyncIterator[LeaderInfo]:
        """``campaign(value, timeout=)`` on entry, ``resign()`` on exit. The body is not
        interrupted if leadership is lost meanwhile: check ``leading`` or fence with
        ``is_leader()``."""
        info = await self.campaign(value, timeout=timeout)
        try:
            yield info
        finally:
            await self.resign()

    # ------------------------------------------------------------------ observing

    async def leader(self) -> LeaderInfo | None:
        """The current leader, or None when nobody campaigns."""
        response = await self._client.get(
            self._prefix,
            prefix=True,
            limit=1,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.ASCEND,
        )
        kv = response.kv
        return LeaderInfo.from_kv(kv) if kv is not None else None

    def observe(self) -> AsyncElectionObserver:
        """Every change of leader, of its value, and "no leader" (None), in order::

        async with election.observe() as changes:
            async for leader in changes: ...
        """
        return AsyncElectionObserver(self._client, self._prefix)

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop, resign, and close the session if the election created it (idempotent)."""
        if self._closed:
            return
        await self.stop()
        self._closed = True
        self._wake()
        await self._join_guard()
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> AsyncElection:
        self._check_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class AsyncElectionObserver:
    """The leader of an election as it changes: iterate it for ``LeaderInfo`` (a new leader or
    a new value) or ``None`` (nobody campaigns). The first item is the state when it started;
    ``revision`` is the store revision of the last item. ``read(timeout=)`` waits (bounded).

    Unlike Go's Observe, deletions are reported: a resignation with no other candidate gives
    ``None``. Changes are computed from every candidate key, so a hand-over costs no extra
    round trip. If the watch's history is compacted it starts again from a fresh read.
    """

    def __init__(self, client: AsyncClient, prefix: bytes) -> None:
        self._client = client
        self._prefix = prefix
        self._tracker: LeaderTracker | None = None
        self._watcher: AsyncWatcher | None = None
        self._pending: deque[tuple[int, LeaderInfo | None]] = deque()
        self.revision = 0

    async def start(self) -> AsyncElectionObserver:
        """Read the current leader and start watching (idempotent)."""
        if self._tracker is None:
            await self._resync()
        return self

    async def _resync(self) -> None:
        response = await self._client.get(self._prefix, prefix=True)
        revision = response.header.revision
        if self._tracker is None:
            self._tracker = LeaderTracker(response.kvs, revision)
            self._pending.append((revision, self._tracker.leader))
        else:
            self._pending.extend(self._tracker.reset(response.kvs, revision))
        watcher = self._client.watch(self._prefix, prefix=True, start_revision=revision + 1)
        await watcher.start()
        self._watcher = watcher

    async def read(self, timeout: float | None = None) -> LeaderInfo | None:
        """The next change (EtcdTimeoutError if none within ``timeout``)."""
        await self.start()
        deadline = None if timeout is None else backend.monotonic() + timeout
        while not self._pending:
            assert self._watcher is not None and self._tracker is not None
            try:
                response = await self._watcher.read(_left(deadline))
            except CompactedError:
                await self._watcher.cancel()
                await self._resync()
                continue
            self._pending.extend(self._tracker.apply(response.events))
        self.revision, leader = self._pending.popleft()
        return leader

    def __aiter__(self) -> AsyncElectionObserver:
        return self

    async def __anext__(self) -> LeaderInfo | None:
        try:
            return await self.read()
        except ClientClosedError:
            raise StopAsyncIteration from None

    async def cancel(self) -> None:
        """Stop watching; iteration ends."""
        if self._watcher is not None:
            await self._watcher.cancel()

    async def __aenter__(self) -> AsyncElectionObserver:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.cancel()


_RETRY_MIN, _RETRY_MAX = 0.05, 2.0


def _left(deadline: float | None) -> float | None:
    """Seconds to ``deadline`` (None: no deadline); EtcdTimeoutError once it has passed."""
    if deadline is None:
        return None
    left = deadline - backend.monotonic()
    if left <= 0:
        raise EtcdTimeoutError("campaign timed out")
    return left


def _until(deadline: float | None, session: AsyncSession) -> float:
    """Seconds to the earlier of ``deadline`` and the session lease's deadline."""
    limit = session.lease.expires_at
    if deadline is not None:
        limit = min(limit, deadline)
    return max(limit - backend.monotonic(), 0.001)


def _out_of_time(deadline: float | None, session: AsyncSession) -> bool:
    """After a wait timed out: EtcdTimeoutError once the campaign's ``deadline`` passed; True
    once the session's lease deadline passed (do not rely on the keep-alive alone to say the
    session is gone)."""
    if deadline is not None and backend.monotonic() >= deadline:
        raise EtcdTimeoutError("campaign: not elected in time")
    return _expired(session)


def _expired(session: AsyncSession) -> bool:
    """The session is lost, or its lease's deadline passed on our clock (etcd may have expired
    it, whatever the keep-alive has noticed so far)."""
    return session.lost or backend.monotonic() >= session.lease.expires_at


def _kvs(response: types.TxnResponse, index: int) -> Sequence[types.KeyValue]:
    result = response.responses[index]
    assert isinstance(result, types.GetResponse)
    return result.kvs


def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        log.exception("election callback %r failed", callback)
