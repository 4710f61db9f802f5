"""No deletion starts, or stays in flight, after this replica's term of leadership ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.kube.leader import Term
from tests.cleanup.builders import HOUR, job_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime


async def test_item1_a_deletion_stalled_past_the_term_is_abandoned_before_it_lands(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        sim.create(job_dict("old", finished=sim.clock.now() - 2 * HOUR))
        sim.faults.latency(10)  # every request is held 10 s before the server acts on it
        term = Term()
        # List and watch take 10 s each; the DELETE would land at 31 s.
        term.until = asyncio.get_running_loop().time() + 25
        async with running(sim, tmp_path, settings(), term=term) as env:
            await asyncio.sleep(60)
            sim.faults.clear()
            await asyncio.sleep(60)
        assert [r.status for r in env.deletes("jobs")] == [None]  # abandoned mid-flight
        assert sim.get("batch/v1", "Job", "old", "default") is not None


async def test_item1_no_deletion_starts_once_the_term_is_over(tmp_path: Path) -> None:
    async with cluster() as sim:
        sim.create(job_dict("old", finished=sim.clock.now() - 2 * HOUR))
        async with running(sim, tmp_path, settings(), term=Term()) as env:
            await asyncio.sleep(60)
        assert env.deletes("jobs") == []
        assert sim.get("batch/v1", "Job", "old", "default") is not None
