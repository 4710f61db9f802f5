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


async def test_a_recreated_job_with_the_same_name_outlives_the_old_ones_timer(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        old = seed_job(sim, "nightly", finished_ago=HOUR - 300)
        async with running(sim, tmp_path, settings()) as env:
            await asyncio.sleep(60)
            sim.delete("batch/v1", "Job", "nightly", namespace="default",
                       propagation_policy="Background")
            await asyncio.sleep(1)
            new = seed_job(sim, "nightly", finished_ago=0)
            await asyncio.sleep(600)  # well past the old Job's expiry
            survivor = sim.get("batch/v1", "Job", "nightly", "default")
            assert survivor is not None
            assert survivor["metadata"]["uid"] == new["metadata"]["uid"] != old["metadata"]["uid"]
            assert not env.deletes("jobs")


async def test_a_deletion_decided_on_a_stale_copy_never_hits_the_newer_namesake(
    tmp_path: Path,
) -> None:
    from gitops_lifecycle.cleanup.decision import Delete
    from gitops_lifecycle.cleanup.deleter import Outcome, Target
    from gitops_lifecycle.kube.records import ObjectMeta
    from gitops_lifecycle.kube.resources import JOBS

    async with cluster() as sim:
        old = seed_job(sim, "nightly", finished_ago=2 * HOUR)
        async with running(sim, tmp_path, settings(), start=False) as env:
            sim.delete("batch/v1", "Job", "nightly", namespace="default")
            seed_job(sim, "nightly", finished_ago=2 * HOUR)
            stale = ObjectMeta(name="nightly", namespace="default", uid_=old["metadata"]["uid"],
                               resource_version_=old["metadata"]["resourceVersion"])
            target = Target(JOBS, stale, Delete("completedJobs", sim.clock.now()))
            assert await env.deleter.delete(target) is Outcome.CONFLICT
            assert sim.get("batch/v1", "Job", "nightly", "default") is not None


async def test_after_the_initial_sync_only_the_events_sweep_lists(tmp_path: Path) -> None:
    async with cluster() as sim:
        for index in range(20):
            seed_job(sim, f"job-{index}", finished_ago=index * 600)
        async with running(sim, tmp_path, settings()) as env:
            await asyncio.sleep(1)
            synced = len(sim.requests)
            for index in range(20, 40):  # Jobs keep finishing while the daemon runs
                seed_job(sim, f"job-{index}", finished_ago=0)
                await asyncio.sleep(600)
            later = sim.requests[synced:]
            assert len(env.deletes("jobs")) >= 20
        lists = [r for r in later if r.method == "GET" and not r.watch
                 and r.path.rsplit("/", 1)[-1] in {"jobs", "pods", "replicasets", "events"}]
        assert {r.path.rsplit("/", 1)[-1] for r in lists} == {"events"}
        hours = 20 * 600 / HOUR
        namespaces = len(sim.list("v1", "Namespace"))  # the events sweep lists each of them
        assert len(lists) == int(hours) * namespaces  # one per events.interval (1h)
