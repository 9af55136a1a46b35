# GENERATED from etcd_recipes/_async/recipes/scheduler/txns.py by scripts/unasync.py -- do not edit.
"""The transactions a scheduler worker sends, written straight into the request message (no
intermediate ``Op`` objects to copy: one worker claims thousands of ticks a second).

Claim of one tick (the keys are listed in the package docstring)::

    If(create_revision(runs/<job>/<run>) == 0 [, version(triggers/<job>/<run>) > 0])
    Then(put runs/<job>/<run> {claim} (claims lease),
         put running/<job>/<run> {run} (session lease) [, delete triggers/<job>/<run>])
    Else(get runs/<job>/<run>)   -- ours after all if it carries our nonce

``overlap="forbid"`` nests the Then in ``If(version(running/<job>/, prefix) == 0)``, whose
Else records the tick as skipped; ``overlap="replace"`` adds ``put kill/<job>`` when a run is
in progress. Finish of one run (the claim's create revision is its token)::

    If(create_revision(running/<job>/<run>) == token)
    Then(delete running/<job>/<run>, put history/<job>/<run> {record}
         [, put triggers/<job>/<retry id> when retries are left], count history/<job>/)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from ...._core import schedule as sched
from ...._core.jobs import JobKeys, JobSpec, RunOutcome, RunRecord, encode_json
from ...._core.keys import prefix_range_end
from ...._core.ops import Op
from ...._pb import rpc_pb2


class Worker(NamedTuple):
    """Who claims: the worker id, and the same as a JSON string (escaped once)."""

    id: str
    id_json: str


@dataclass(slots=True)
class Claim:
    run_id: str
    tick: datetime | None
    token: int
    attempt: int
    kind: str
    started: float


@dataclass(slots=True)
class Fire:
    """A tick (or trigger) to claim."""

    spec: JobSpec
    run_id: str
    tick: datetime | None
    kind: str = "scheduled"
    attempt: int = 1
    miss: bool = False
    nonce: str = ""
    created: float = 0.0


@dataclass(slots=True)
class Finish:
    """A finished run waiting for its record to be written (its ``_runs`` key)."""

    spec: JobSpec
    claim: Claim
    record: RunRecord
    key: str


_KIND_JSON = {kind: f'"{kind}"' for kind in ("scheduled", "manual", "retry")}


_CMP_CREATE = rpc_pb2.Compare.CREATE
_CMP_VERSION = rpc_pb2.Compare.VERSION
_CMP_GREATER = rpc_pb2.Compare.GREATER


def idle_into(txn: rpc_pb2.TxnRequest, running_prefix: str) -> None:
    """``If(version(running/<job>/, prefix) == 0)``: no run of the job in progress."""
    compare = txn.compare.add()
    compare.target = _CMP_VERSION
    key = running_prefix.encode()
    compare.key, compare.range_end = key, prefix_range_end(key)
    compare.version = 0


def claim_into(
    txn: rpc_pb2.TxnRequest,
    fire: Fire,
    keys: JobKeys,
    worker: Worker,
    session_lease: int,
    claims_lease: int,
    started: float,
) -> None:
    """Write the compares and branches that decide one tick (see the package docstring)
    straight into ``txn`` (the request itself, or a nested transaction of it): no
    intermediate messages to copy."""
    spec, name, run_id, tick = fire.spec, fire.spec.name, fire.run_id, fire.tick
    run_key = keys.run(name, run_id).encode()
    trigger_key = keys.trigger(name, run_id).encode() if fire.kind != "scheduled" else None
    # The two values every claim writes, formatted directly (the same JSON as encode_json gives:
    # sorted keys; nonce and kind are plain ASCII, the worker id is escaped once).
    kind = _KIND_JSON.get(fire.kind) or json.dumps(fire.kind)
    head = f'{{"attempt":{int(fire.attempt)},"kind":{kind}'
    claim = f'{head},"nonce":"{fire.nonce}","state":"run","worker":{worker.id_json}}}'
    tick_json = f'"{tick.isoformat()}"' if tick else "null"
    stamp = float(started)
    running = f'{head},"started":{stamp!r},"tick":{tick_json},"worker":{worker.id_json}}}'
    compare = txn.compare.add()
    compare.target = _CMP_CREATE
    compare.key = run_key
    compare.create_revision = 0
    if trigger_key is not None:
        compare = txn.compare.add()
        compare.result = _CMP_GREATER
        compare.target = _CMP_VERSION
        compare.key = trigger_key
        compare.version = 0
    txn.failure.add().request_range.key = run_key
    overlap = spec.overlap
    if overlap == "forbid":
        inner = txn.success.add().request_txn
        start, skip = inner.success, inner.failure
        idle_into(inner, keys.running(name))
    else:
        start = txn.success
    put = start.add().request_put
    put.key, put.value, put.lease = run_key, claim.encode(), claims_lease
    put = start.add().request_put
    put.key = keys.running_run(name, run_id).encode()
    put.value, put.lease = running.encode(), session_lease
    if trigger_key is not None:
        start.add().request_delete_range.key = trigger_key
    if overlap == "forbid":
        skipped = RunRecord(
            name,
            run_id,
            tick,
            RunOutcome.SKIPPED,
            fire.kind,
            fire.attempt,
            worker.id,
            started=started,
            ended=started,
            error="overlap=forbid: a previous run of this job is still in progress",
        )
        base = {"worker": worker.id, "nonce": fire.nonce, "kind": fire.kind}
        put = skip.add().request_put
        put.key, put.lease = run_key, claims_lease
        put.value = encode_json({**base, "attempt": fire.attempt, "state": "skipped"})
        put = skip.add().request_put
        put.key, put.value = keys.record(name, run_id).encode(), skipped.to_json()
        if trigger_key is not None:
            skip.add().request_delete_range.key = trigger_key
    elif overlap == "replace":
        inner = txn.success.add().request_txn
        idle_into(inner, keys.running(name))
        put = inner.failure.add().request_put
        put.key, put.lease = keys.kill(name).encode(), session_lease
        put.value = encode_json({"by": worker.id})


def finish_into(txn: rpc_pb2.TxnRequest, item: Finish, keys: JobKeys, now: float) -> None:
    """Delete the in-progress key and write the record (and a retry), guarded by the
    in-progress key's create revision; then count the job's records. Written straight
    into ``txn`` (the request itself, or a nested transaction of it)."""
    name, claim = item.spec.name, item.claim
    running_key = keys.running_run(name, claim.run_id).encode()
    compare = txn.compare.add()
    compare.target = _CMP_CREATE
    compare.key = running_key
    compare.create_revision = claim.token
    ops = txn.success
    ops.add().request_delete_range.key = running_key
    put = ops.add().request_put
    put.key, put.value = keys.record(name, claim.run_id).encode(), item.record.to_json()
    for op in retry_ops(keys, item.spec, claim.run_id, claim.attempt, item.record, now):
        ops.add().CopyFrom(op._pb)
    count = ops.add().request_range
    history = keys.history(name).encode()
    count.key, count.range_end, count.count_only = history, prefix_range_end(history), True


def retry_ops(
    keys: JobKeys, spec: JobSpec, run_id: str, attempt: int, record: RunRecord, now: float
) -> list[Op]:
    """The trigger of the next attempt when a failed, timed-out or lost run has retries left
    (``now``: the end time for a record without one)."""
    retryable = (RunOutcome.FAILED, RunOutcome.TIMEOUT, RunOutcome.LOST)
    if record.outcome not in retryable or attempt > spec.retries:
        return []
    next_attempt = attempt + 1
    retry = sched.retry_id(sched.base_id(run_id), next_attempt)
    not_before = (record.ended or now) + sched.retry_delay(next_attempt, spec.retry_backoff)
    value = {"kind": "retry", "attempt": next_attempt, "not_before": not_before}
    return [Op.put(keys.trigger(spec.name, retry), encode_json(value))]
