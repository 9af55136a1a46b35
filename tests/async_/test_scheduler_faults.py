"""The scheduler on a 3-member cluster while a member dies and the leader pauses.

3 worker processes, each talking first to a different member, run ``$SCHEDULER_SOAK_JOBS``
(default 20) every-second jobs for ``$SCHEDULER_SOAK_SECONDS`` (default 30)
seconds. Meanwhile a follower is SIGKILLed (and restarted), then the leader is SIGSTOPped for
1.5 s (and resumed). No tick may run twice; every tick has exactly one record: ran, lost, or
recorded as missed (a worker that could not reach a quorum within the misfire grace).
"""

from __future__ import annotations

import math
import os
import secrets
import time
from pathlib import Path

import pytest

from etcd_recipes import AsyncClient, JobSpec, RunOutcome
from etcd_recipes.testing import EtcdCluster

from .test_scheduler import (
    SOAK_SECONDS,
    SchedulerWorkers,
    check_every_tick_once,
    sleep_until,
    wait_records,
    wait_workers,
    window,
)

pytestmark = pytest.mark.cluster

JOBS = int(os.environ.get("SCHEDULER_SOAK_JOBS", "20"))


async def test_every_tick_once_while_a_member_dies_and_the_leader_pauses(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    cluster = etcd_cluster
    prefix = f"/scheduler-faults-{secrets.token_hex(4)}/"
    endpoints = cluster.endpoints
    async with AsyncClient(endpoints) as client:
        scheduler = client.scheduler(prefix)
        names = [f"j{i:02d}" for i in range(JOBS)]
        for name in names:
            spec = JobSpec(name, "* * * * * *", handler="record", overlap="allow")
            await scheduler.add_job(spec.replace(history_limit=1000), check_handler=False)
        workers = SchedulerWorkers(tmp_path, prefix)
        try:
            for i in range(3):  # worker i talks to member i first
                workers.start(f"w{i}", endpoints[i:] + endpoints[:i], session_ttl=5)
            await wait_workers(scheduler, {"w0", "w1", "w2"})
            start = math.ceil(time.time()) + 1
            ticks = window(start, SOAK_SECONDS)
            await sleep_until(start + SOAK_SECONDS * 0.2)
            follower = cluster.followers()[0]
            follower.kill()
            await sleep_until(start + SOAK_SECONDS * 0.4)
            follower.start(wait=False)
            await sleep_until(start + SOAK_SECONDS * 0.5)
            leader = cluster.leader()
            leader.pause()
            await sleep_until(start + SOAK_SECONDS * 0.5 + 1.5)
            leader.resume()
            records = await wait_records(
                scheduler,
                lambda rs: (
                    len({(r.job, r.run_id) for r in rs if r.run_id in ticks})
                    >= len(names) * len(ticks)
                ),
                timeout=SOAK_SECONDS + 30,
            )
        except AssertionError:
            print(workers.log_tail())
            raise
        finally:
            workers.stop()
            cluster.heal()
    outcomes = check_every_tick_once(records, workers.executions(), names, ticks)
    print(f"{len(names)} jobs x {len(ticks)} ticks: {dict(outcomes)}")
    assert outcomes[RunOutcome.OK] > 0
