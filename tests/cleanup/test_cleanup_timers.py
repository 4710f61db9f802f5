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


async def test_a_relist_that_no_longer_finds_a_job_cancels_its_timer(tmp_path: Path) -> None:
    async with cluster() as sim:
        for i in range(10):
            sim.create(job_dict(f"done-{i}", finished=sim.clock.now()))
        async with running(sim, tmp_path, settings()) as env:
            [jobs] = [c for c in env.components if c.name == "cleanup-jobs"]
            await asyncio.sleep(5)
            assert jobs.queue.timers == 10
            # The watch drops, the Jobs go, and the history is compacted: only a re-list
            # can tell the informer they are gone.
            sim.faults.drop_watches()
            for i in range(10):
                sim.delete("batch/v1", "Job", f"done-{i}", namespace="default",
                           propagation_policy="Background")
            sim.faults.compact()
            await asyncio.sleep(5)
            assert not env.informers["jobs"]
            assert jobs.queue.timers == 0
            assert env.lists("jobs")[1:], "the informer listed again"
