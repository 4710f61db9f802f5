"""The blast-radius guard on the simulated cluster: a mass deletion stops until confirmed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.cleanup.builders import HOUR, job_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime

GUARD = {"maxShare": 0.5, "maxCount": 5}


def blocked() -> float:
    return REGISTRY.get_sample_value(
        "gitops_cleanup_blast_radius_blocked_total", {"policy": "completedJobs"}
    ) or 0.0


def seed(sim, *, expired: int, young: int) -> None:
    now = sim.clock.now()
    for index in range(expired):
        sim.create(job_dict(f"old-{index}", finished=now - 2 * HOUR))
    for index in range(young):
        sim.create(job_dict(f"young-{index}", finished=now - 600))


async def test_a_sweep_that_would_delete_too_much_deletes_nothing(tmp_path: Path) -> None:
    before = blocked()
    async with cluster() as sim:
        seed(sim, expired=8, young=2)  # 8 of 10: more than half and more than 5
        async with running(sim, tmp_path, settings(blastRadius=GUARD)) as env:
            await asyncio.sleep(2 * HOUR)  # the young ones expire too: still nothing
            assert len(sim.list("batch/v1", "Job")) == 10
            assert not env.deletes("jobs")
        assert blocked() - before >= 1
        warnings = [e for e in env.events.recorded if e[2] == "BlastRadiusExceeded"]
        assert warnings
        assert "would delete 8 of 10 jobs" in warnings[0][3]


async def test_confirming_lets_the_same_sweep_go_ahead(tmp_path: Path) -> None:
    async with cluster() as sim:
        seed(sim, expired=8, young=2)
        config = settings(blastRadius={**GUARD, "confirmed": True})
        async with running(sim, tmp_path, config):
            await asyncio.sleep(60)
            assert len(sim.list("batch/v1", "Job")) == 2


async def test_a_sweep_within_either_limit_goes_ahead(tmp_path: Path) -> None:
    async with cluster() as sim:
        seed(sim, expired=5, young=0)  # all of them, but no more than maxCount
        async with running(sim, tmp_path, settings(blastRadius=GUARD)):
            await asyncio.sleep(60)
            assert sim.list("batch/v1", "Job") == []


async def test_each_deletion_is_recorded_as_an_event_on_the_object(tmp_path: Path) -> None:
    async with cluster() as sim:
        seed(sim, expired=2, young=0)
        async with running(sim, tmp_path, settings()) as env:
            await asyncio.sleep(60)
        cleaned = sorted((kind, name, reason) for kind, name, reason, _ in env.events.recorded)
        assert cleaned == [("Job", "old-0", "CleanedUp"), ("Job", "old-1", "CleanedUp")]
