"""Distributed cron: job definitions in etcd, each tick run exactly once across the workers.

::

    scheduler = client.scheduler("/job/")

    @scheduler.job("cleanup", cron="*/5 * * * * *", timezone="Europe/Riga")
    async def cleanup(ctx):           # ctx: AsyncJobContext (run id, fencing token, cancellation)
        ...

    async with scheduler.worker():    # or: await scheduler.worker().run()
        ...

    await scheduler.add_job(JobSpec("report", "0 7 * * MON", handler="report", args={"to": "x"}))
    await scheduler.trigger("report"); await scheduler.kill("report")
    await scheduler.history("report")

Keys (under ``prefix``, default ``/job/``)::

    <prefix><name>                        job definition, JSON (JobSpec)
    <prefix>runs/<name>/<run id>          claim of one tick; lease: the claiming worker's claims
                                          lease (TTL claim_ttl, default 1 h)
    <prefix>running/<name>/<run id>       run in progress; lease: the running worker's session
    <prefix>history/<name>/<run id>       run record, JSON (RunRecord); at most
                                          history_limit + history_limit // 4 per job
    <prefix>kill/<name>                   kill request; lease: kill_ttl (10 s)
    <prefix>triggers/<name>/<run id>      manual run or retry waiting for a worker
    <prefix>workers/<worker id>/<lease>   live worker; lease: its session
    <prefix>sessions/<worker id>/<lease>  marker of a session (no lease): written with the
                                          registration, deleted on a clean stop or once the
                                          session's runs in progress are recorded as lost

Run ids are the tick's UTC time, ``20250330T010000.000Z`` (sortable); manual runs add
``~<nonce>``, retries ``#r<attempt>``. Job names cannot contain ``/`` and the seven sub-prefix
names are refused as job names, so definitions and the scheduler's keys never collide.

Compares (each decision is one transaction):

* Claim a tick: ``If(create_revision(runs/<name>/<id>) == 0 [, version(triggers/...) > 0])``
  ``Then(put runs/..., put running/... on the session lease [, delete triggers/...])``
  ``Else(get runs/...)``. With ``overlap="forbid"`` the ``Then`` is a nested
  ``If(version(running/<name>/ prefix) == 0) Then(put runs, put running) Else(put runs as
  skipped, put history as skipped)``: the tick is decided once, whoever runs into it. With
  ``"replace"`` the ``Then`` also holds ``If(version(running/<name>/) == 0) Else(put kill/<name>)``.
  The claim's create revision is the run's fencing token. A worker whose claim timed out
  retries it; the ``Else`` read tells by a nonce whether the first attempt was applied.
* Ticks of different jobs due at the same moment are sent together: one request holding one
  such transaction per tick, nested (at most 64 per request); each is decided on its own.
  Records written at the same moment are batched the same way.
* Finish: ``If(create_revision(running/<name>/<id>) == token) Then(delete running/...,
  put history/..., [put triggers/... for a retry], count history)``; if the in-progress key is
  gone (session lost), ``If(create_revision(history/...) == 0) Then(put history/...)``.
  Jobs whose count reached ``history_limit + history_limit // 4`` are pruned together: one
  read of their record keys, one delete per job up to its cut-off key (two requests).
* Missed tick: ``If(create_revision(runs/...) == 0) Then(put runs/... as missed, put history)``.
* Lost run: when ``workers/<id>/<lease>`` is deleted at revision R, the live workers read
  ``running/`` at R - 1, and for each run on that lease
  ``If(create_revision(history/...) == 0, create_revision(running/...) == 0)
  Then(put history as lost [, put triggers/... for a retry])``. A worker that gets a session
  also looks for sessions that ended unseen (``sessions/<id>/<lease>`` without its
  ``workers/<id>/<lease>``), reads the revision R of that deletion from etcd's history (a watch
  from the marker's create revision), and does the same; then it deletes the marker.

Time: ticks are computed from each worker's clock (injectable), but a tick is decided by the
claim's compare, never by the clock: skewed clocks move when a tick runs, never how often.

Error handling:

* A worker needs a session (a kept-alive lease) to claim. When the session is lost (etcd
  unreachable past ``session_ttl``), the worker stops claiming, cancels its runs in progress
  (their in-progress keys are gone, so other workers record them as lost; ``ctx.fence()`` fails
  from then on), and claims again once it has a new session. Ticks that passed meanwhile follow
  the misfire policy (recorded as missed, or the latest runs once).
* A claim that cannot be sent is retried until ``misfire_grace`` after its tick, then the tick
  is recorded as missed (by whichever worker gets through first). A claim whose outcome is
  unknown is retried and recognised by its nonce, so it neither runs twice nor goes unrun.
* A run whose worker dies is recorded as lost by a live worker (once), and is re-run only if
  the job has ``retries``. If no worker is alive to see it, the next worker to start records it
  (the same compare: once, however many start together), unless etcd compacted the revision
  where the dead worker's session ended (logged).
* A run's record is retried for 30 s; after that the run is logged as unrecorded.
* Management verbs raise ``InvalidJobError`` / ``UnknownHandlerError`` (nothing written),
  ``JobNotFoundError``, ``JobExistsError``, or the client's connection errors (a timed-out write
  may have been applied: ``outcome_unknown``).
* Kill: async handlers are cancelled (``CancelledError``); sync handlers cannot be interrupted
  and should poll ``ctx.cancelled``; commands get SIGTERM, then SIGKILL after ``kill_grace``
  (to their process group). After ``kill_grace`` the run is recorded as killed either way.

Modules: ``api`` (the scheduler: job definitions, triggers, kills, history), ``worker`` (the
worker's loop: watch the jobs, compute ticks, claim, record, recover lost runs), ``txns`` (the
claim and finish transactions, written straight into the request), ``run`` (one run: its
context, its handler or command, timeout and cancellation).
"""

from ...._core.jobs import InvalidJobError as InvalidJobError
from ...._core.jobs import JobExistsError as JobExistsError
from ...._core.jobs import JobNotFoundError as JobNotFoundError
from ...._core.jobs import JobSpec as JobSpec
from ...._core.jobs import JobStatus as JobStatus
from ...._core.jobs import RunCancelledError as RunCancelledError
from ...._core.jobs import RunningRun as RunningRun
from ...._core.jobs import RunOutcome as RunOutcome
from ...._core.jobs import RunRecord as RunRecord
from ...._core.jobs import SchedulerError as SchedulerError
from ...._core.jobs import UnknownHandlerError as UnknownHandlerError
from ...._core.jobs import WorkerInfo as WorkerInfo
from .api import AsyncScheduler as AsyncScheduler
from .run import AsyncJobContext as AsyncJobContext
from .worker import AsyncSchedulerWorker as AsyncSchedulerWorker
