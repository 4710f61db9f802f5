"""Finished Jobs on the simulated cluster: deleted at their expiry, never a newer namesake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.clock import parse_time

from tests.cleanup.builders import HOUR, job_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime


def finished_at(job: dict) -> float:
    return parse_time(job["status"]["conditions"][-1]["lastTransitionTime"])


def seed_job(sim, name: str, *, finished_ago: float | None, **kwargs) -> dict:
    now = sim.clock.now()
    finished = None if finished_ago is None else now - finished_ago
    return sim.create(job_dict(name, finished=finished, **kwargs))


async def test_a_job_is_deleted_within_a_second_of_its_ttl(tmp_path: Path) -> None:
    async with cluster() as sim:
        job = seed_job(sim, "done", finished_ago=HOUR - 100)
        expires = finished_at(job) + HOUR
        async with running(sim, tmp_path, settings()) as env:
            await asyncio.sleep(99)
            assert "done" in env.names("batch/v1", "Job")
            await asyncio.sleep(2)
            assert "done" not in env.names("batch/v1", "Job")
            [delete] = env.deletes("jobs")
            assert expires <= delete.time <= expires + 1
