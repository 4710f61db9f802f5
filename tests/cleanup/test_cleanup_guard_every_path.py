"""The blast-radius guard sees every deletion (sweep, watch, timer), and dry-run writes
nothing, not even the guard's Warning."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.cleanup.builders import HOUR, job_dict
from tests.cleanup.harness import cluster, running, settings
from tests.cleanup.test_cleanup_transient_errors import namespace, only

pytestmark = pytest.mark.looptime

GUARD = {"maxShare": 0.5, "maxCount": 5}


def stopped(policy: str = "completedJobs") -> float:
    return REGISTRY.get_sample_value(
        "gitops_cleanup_blast_radius_blocked_total", {"policy": policy}) or 0.0


def dry_runs(policy: str = "completedJobs") -> float:
    return REGISTRY.get_sample_value("gitops_cleanup_dry_run_total", {"policy": policy}) or 0.0


async def test_item11_annotating_many_jobs_while_running_is_capped_by_the_guard(
    tmp_path: Path,
) -> None:
    before = stopped()
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(20):
            sim.create(job_dict(f"job-{index:02d}", finished=now - 600))
        config = settings(**only("completedJobs"), blastRadius=GUARD)
        async with running(sim, tmp_path, config) as env:
            await asyncio.sleep(5)
            for index in range(16):  # a bad TTL applied by hand: 16 of 20 due at once
                sim.patch("batch/v1", "Job", f"job-{index:02d}", {"metadata": {
                    "annotations": {"gitops.io/cleanup-ttl": "1m"}}}, namespace="default")
            await asyncio.sleep(10 * 60)
            deleted = [r for r in env.deletes("jobs") if r.status == 200]
            assert len(deleted) == 10  # 11 of 20 would be over both limits
            warnings = [e for e in env.events.recorded if e[2] == "BlastRadiusExceeded"]
            assert len(warnings) == 1
    assert stopped() - before == 1


async def test_item11_the_cap_counts_timer_deletions_within_the_window(tmp_path: Path) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(14):  # expiring one a minute from 10 minutes on
            sim.create(job_dict(f"job-{index:02d}", finished=now - HOUR + 600 + 60 * index))
        for index in range(6):
            sim.create(job_dict(f"running-{index}"))
        config = settings(**only("completedJobs"), blastRadius=GUARD)
        async with running(sim, tmp_path, config) as env:
            await asyncio.sleep(40 * 60)
            assert len([r for r in env.deletes("jobs") if r.status == 200]) == 10  # 11 of 20
            await asyncio.sleep(HOUR)  # the 60-minute sweep still counts the 10 deleted
            assert len([r for r in env.deletes("jobs") if r.status == 200]) == 10
            await asyncio.sleep(HOUR)  # the window has passed: 4 of 10 are within bounds
            assert len([r for r in env.deletes("jobs") if r.status == 200]) == 14
        assert len([e for e in env.events.recorded if e[2] == "BlastRadiusExceeded"]) == 1


async def test_item12_dry_run_with_a_tripped_guard_reports_every_object_and_writes_nothing(
    tmp_path: Path,
) -> None:
    before, reported = stopped(), dry_runs()
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(10):
            sim.create(job_dict(f"old-{index}", finished=now - 2 * HOUR))
        config = settings(**only("completedJobs"), blastRadius=GUARD, dryRun=True)
        async with running(sim, tmp_path, config) as env:
            await asyncio.sleep(60)
        writes = [r for r in sim.requests if r.method not in {"GET", "HEAD"}]
    assert writes == []
    assert env.events.recorded == []
    assert dry_runs() - reported == 10
    assert stopped() - before == 1  # what the guard would have done is still counted


async def test_the_limit_over_all_policies_counts_each_job_once(tmp_path: Path) -> None:
    """completedJobs and failedJobs judge the same Jobs: together they are one kind of 20."""
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(4):
            sim.create(job_dict(f"done-{index}", finished=now - 30 * 24 * HOUR))
        for index in range(3):
            sim.create(job_dict(f"failed-{index}", finished=now - 30 * 24 * HOUR,
                                outcome="Failed"))
        for index in range(13):
            sim.create(job_dict(f"running-{index:02d}"))
        policies = {"completedJobs": {"enabled": True}, "failedJobs": {"enabled": True}}
        for name in ("stuckPods", "events", "replicaSets"):
            policies[name] = {"enabled": False}
        config = settings(controller={"policies": policies},
                          blastRadius={"maxShare": 0.3, "maxCount": 5})
        async with running(sim, tmp_path, config) as env:
            await asyncio.sleep(10 * 60)
            # Each policy is within bounds (4 and 3 of 20); both together are not: the seventh
            # deletion would be 7 of 20 Jobs, over 5 and over 30 %.
            assert len([r for r in env.deletes("jobs") if r.status == 200]) == 6
