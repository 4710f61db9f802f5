"""Transient API errors on a controller's path are counted, retried with backoff, and never
end the controller (or the daemon)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.simulation import SimulatedCluster
from tests.cleanup.builders import HOUR, event_dict, job_dict, node_dict, pod_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime

DAY = 24 * HOUR


def errors(policy: str, reason: str) -> float:
    return REGISTRY.get_sample_value(
        "gitops_cleanup_errors_total", {"policy": policy, "reason": reason}) or 0.0


def only(policy: str, **extra: Any) -> dict[str, Any]:
    """Cleanup settings with only `policy` enabled."""
    names = ("completedJobs", "failedJobs", "stuckPods", "events", "replicaSets")
    policies: dict[str, Any] = {name: {"enabled": name == policy} for name in names}
    policies[policy].update(extra)
    return {"controller": {"policies": policies}}


def namespace(sim: SimulatedCluster, name: str = "default") -> None:
    sim.ensure_namespaces(name)


async def test_item5_a_500_on_one_event_deletion_neither_cancels_the_others_nor_ends_the_sweeper(
    tmp_path: Path,
) -> None:
    before = errors("events", "server_error")
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(20):
            sim.create(event_dict(f"old-{index}", last=now - 2 * DAY))
        sim.faults.fail_next(1, 500, method="DELETE")
        async with running(sim, tmp_path, settings(**only("events"))) as env:
            await asyncio.sleep(5)
            assert len(sim.list("v1", "Event")) == 1  # one failed, none of the others cancelled
            await asyncio.sleep(120)  # retried well before the next hourly sweep
            assert sim.list("v1", "Event") == []
            assert all(not task.done() for task in asyncio.all_tasks()
                       if task.get_name() == "cleanup-events")
        assert len([r for r in env.deletes("events") if r.status == 200]) == 20
    assert errors("events", "server_error") - before == 1


@pytest.mark.parametrize("status", [500, 429, 504])
async def test_item5_a_failing_node_read_is_retried_with_backoff_not_fatal(
    tmp_path: Path, status: int,
) -> None:
    reason = {500: "server_error", 429: "throttled", 504: "server_error"}[status]
    before = errors("stuckPods", reason)
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        sim.create(node_dict("node-down", ready=False, since=now - DAY))
        sim.create(pod_dict("stuck", deleted=now - HOUR, node="node-down"))
        sim.faults.fail_next(6, status, method="GET", path="/nodes/")
        async with running(sim, tmp_path, settings(**only("stuckPods"))) as env:
            await asyncio.sleep(300)
            assert sim.list("v1", "Pod") == []
        node_reads = [r for r in env.sim.requests if r.method == "GET" and "/nodes/" in r.path]
        assert 7 <= len(node_reads) <= 12  # every failure retried, with backoff, not a spin
    assert errors("stuckPods", reason) - before == 6


async def test_item6_a_conflicting_deletion_is_retried_with_exponential_backoff(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        namespace(sim)
        sim.create(job_dict("stale", finished=sim.clock.now() - 2 * HOUR))
        sim.faults.fail_next(10**6, 409, method="DELETE")
        async with running(sim, tmp_path, settings(**only("completedJobs"))) as env:
            await asyncio.sleep(330)
            attempts = len(env.deletes("jobs"))
            assert 3 <= attempts <= 12, f"{attempts} DELETEs in 5.5 minutes"
            sim.faults.clear()
            await asyncio.sleep(600)
            assert sim.list("batch/v1", "Job") == []
