"""Timers of objects someone else deletes are cancelled, so memory does not grow with churn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cleanup.builders import job_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime

JOBS = 2000


async def test_deleting_finished_jobs_elsewhere_cancels_their_expiry_timers(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        for i in range(JOBS):
            sim.create(job_dict(f"done-{i}", finished=sim.clock.now()))
        async with running(sim, tmp_path, settings()) as env:
            [jobs] = [c for c in env.components if c.name == "cleanup-jobs"]
            await asyncio.sleep(5)
            assert jobs.queue.timers == JOBS  # each waits for its TTL, an hour away
            for i in range(JOBS):
                sim.delete("batch/v1", "Job", f"done-{i}", namespace="default",
                           propagation_policy="Background")
            await asyncio.sleep(5)
            assert not env.informers["jobs"]
            assert jobs.queue.timers == 0
            assert len(jobs.queue) == 0
