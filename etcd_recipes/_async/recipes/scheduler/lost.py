"""Lost runs: a run whose worker's session ended is recorded as lost, once, by a live worker.

Keys (see the package docstring for the whole layout)::

    <prefix>workers/<worker id>/<lease>   live worker; lease: its session
    <prefix>sessions/<worker id>/<lease>  marker of that session (no lease)
    <prefix>running/<name>/<run id>       run in progress; lease: the running worker's session

* Reap: ``workers/<id>/<lease>`` was deleted at revision R (its session ended). Read
  ``running/`` at R - 1; for each run on that lease
  ``If(create_revision(history/<name>/<run>) == 0, create_revision(running/<name>/<run>) == 0)
  Then(put history/<name>/<run> as lost [, put triggers/... for a retry])``: the first compare
  makes the record once among all live workers, the second leaves a run that came back alone.
  Then delete the session's marker (kept if a record could not be written).
* Recover (on a new session of ours): a marker without its registration is a session that ended
  while no worker watched. Read R from etcd's history (a watch on the registration from the
  marker's create revision, bounded by ``op_timeout``) and reap as above. If that history was
  compacted, the runs cannot be recorded (logged) and the marker is dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ...._core.jobs import JobKeys, JobSpec, RunOutcome, RunRecord
from ...._core.ops import Compare, Op
from ...._core.types import Event, EventType, GetResponse
from ...._exceptions import CompactedError, EtcdError, EtcdTimeoutError
from ... import _backend as backend
from .txns import retry_ops

if TYPE_CHECKING:
    from ...client import AsyncClient

log = logging.getLogger("etcd_recipes.scheduler")


class AsyncLostRuns:
    """Records the runs of ended sessions as lost, for one worker (``worker_id``)."""

    def __init__(
        self,
        client: AsyncClient,
        keys: JobKeys,
        *,
        worker_id: str,
        op_timeout: float,
        clock: Callable[[], float],
        spec_of: Callable[[str], JobSpec | None],
        stopping: Callable[[], bool],
    ) -> None:
        self._client = client
        self._keys = keys
        self._id = worker_id
        self._op_timeout = op_timeout
        self._clock = clock
        self._spec_of = spec_of
        self._stopping = stopping

    async def recover(self) -> None:
        """Find the sessions that ended while no worker was there to see it (a marker without
        its registration) and reap each at the revision its registration was deleted, as if the
        deletion had just been watched."""
        keys = self._keys
        try:
            response = await (
                self._client.txn(timeout=self._op_timeout)
                .then(
                    Op.get(keys.sessions(), prefix=True),
                    Op.get(keys.workers(), prefix=True, keys_only=True),
                )
                .commit()
            )
        except EtcdError as error:
            log.warning("worker %s: cannot look for unrecorded lost runs: %s", self._id, error)
            return
        markers, registered = response.responses
        assert isinstance(markers, GetResponse) and isinstance(registered, GetResponse)
        alive = {kv.key for kv in registered.kvs}
        for marker in markers.kvs:
            _, worker_id, lease_hex = keys.split(marker.key)
            registration = keys.worker(worker_id, lease_hex).encode()
            if registration in alive or self._stopping():
                continue  # alive: its end will come through the watch
            try:
                event = await self._deletion(registration, marker.create_revision)
            except CompactedError:
                log.warning(
                    "worker %s: the end of %s's session %s is compacted away; its runs in "
                    "progress then (if any) cannot be recorded as lost",
                    self._id,
                    worker_id,
                    lease_hex,
                )
                await self._drop_marker(marker.key)
                continue
            except EtcdError as error:
                log.warning(
                    "worker %s: cannot see %s's session end: %s", self._id, worker_id, error
                )
                continue
            if event is not None:
                await self.reap(event)

    async def _deletion(self, key: bytes, since: int) -> Event | None:
        """The event that deleted ``key`` (created at revision ``since``), read from etcd's
        history with a watch; None if it is not there within ``op_timeout``."""
        async with self._client.watch(key, start_revision=since) as watcher:
            deadline = backend.monotonic() + self._op_timeout
            while (remaining := deadline - backend.monotonic()) > 0:
                try:
                    response = await watcher.read(remaining)
                except EtcdTimeoutError:
                    break
                for event in response.events:
                    if event.type is EventType.DELETE:
                        return event
        return None

    async def _drop_marker(self, key: bytes) -> None:
        try:
            await self._client.delete(key, timeout=self._op_timeout)
        except EtcdError as error:
            log.info("worker %s: could not delete %r: %s", self._id, key, error)

    async def reap(self, event: Event) -> None:
        """A worker's registration vanished (its session ended): record its runs in progress
        (deleted with it, at the same revision) as lost, once, and queue retries; then drop the
        session's marker (kept if a record could not be written, for the next ``recover``)."""
        _, worker_id, lease_hex = self._keys.split(event.key)
        try:
            lease = int(lease_hex, 16)
        except ValueError:
            return
        try:
            gone = await self._client.get(
                self._keys.running(),
                prefix=True,
                revision=event.kv.mod_revision - 1,
                timeout=self._op_timeout,
            )
        except EtcdError as error:
            log.warning(
                "worker %s: cannot see %s's runs to record them lost: %s",
                self._id,
                worker_id,
                error,
            )
            return
        recorded = True
        for kv in gone.kvs:
            if kv.lease != lease:
                continue
            _, name, run_id = self._keys.split(kv.key)
            try:
                info = json.loads(kv.value)
                tick = datetime.fromisoformat(info["tick"]) if info.get("tick") else None
                attempt = int(info.get("attempt", 1))
                kind = str(info.get("kind", "scheduled"))
                started = info.get("started")
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
            record = RunRecord(
                name,
                run_id,
                tick,
                RunOutcome.LOST,
                kind,
                attempt,
                worker_id,
                kv.create_revision,
                started,
                self._clock(),
                error="the worker's session ended during the run (it died or was cut off)",
            )
            spec = self._spec_of(name)
            now = self._clock()
            extra = retry_ops(self._keys, spec, run_id, attempt, record, now) if spec else []
            record_key = self._keys.record(name, run_id)
            try:
                await (
                    self._client.txn(timeout=self._op_timeout)
                    .if_(
                        Compare.create_revision(record_key) == 0,
                        Compare.create_revision(kv.key) == 0,
                    )
                    .then(Op.put(record_key, record.to_json()), *extra)
                    .commit()
                )
            except EtcdError as error:
                recorded = False
                log.warning(
                    "worker %s: could not record %s/%s as lost: %s", self._id, name, run_id, error
                )
        if recorded:
            await self._drop_marker(self._keys.session(worker_id, lease_hex).encode())
