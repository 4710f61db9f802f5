"""Every policy at once on the simulated cluster: after the clock advances, exactly the
eligible set is gone, and every object a policy must leave alone is still there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation import SimulatedCluster
from tests.cleanup.builders import (
    HOUR,
    deployment_dict,
    event_dict,
    job_dict,
    pod_dict,
    replicaset_dict,
)
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime

FLUX = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "x"}
OPT_OUT = {"gitops.io/cleanup": "false"}
DAY = 24 * HOUR


def namespaces(sim: SimulatedCluster, *names: str) -> None:
    sim.ensure_namespaces(*names)


def seed(sim: SimulatedCluster) -> tuple[set[str], set[str]]:  # noqa: PLR0915 - one of each
    """Objects of every kind; returns (names that must go, names that must stay)."""
    now = sim.clock.now()
    namespaces(sim, "default", "kube-system")
    gone: set[str] = set()
    kept: set[str] = set()

    def job(name: str, *, go: bool, finished_ago: float | None, **kwargs: Any) -> None:
        finished = None if finished_ago is None else now - finished_ago
        sim.create(job_dict(name, finished=finished, **kwargs))
        (gone if go else kept).add(name)

    job("job-completed-old", go=True, finished_ago=2 * HOUR)
    job("job-completed-expires-soon", go=True, finished_ago=HOUR - 300)
    job("job-completed-young", go=False, finished_ago=600)
    job("job-failed-old", go=True, finished_ago=25 * HOUR, outcome="Failed")
    job("job-failed-young", go=False, finished_ago=2 * HOUR, outcome="Failed")
    job("job-running", go=False, finished_ago=None)
    job("job-own-ttl", go=False, finished_ago=9 * HOUR, ttl=60)
    job("job-of-cronjob", go=False, finished_ago=9 * HOUR, owner="CronJob")
    job("job-flux", go=False, finished_ago=9 * HOUR, labels=FLUX)
    job("job-opted-out", go=False, finished_ago=9 * HOUR, annotations=OPT_OUT)
    job("job-excluded", go=False, finished_ago=9 * HOUR, namespace="kube-system")
    job("job-short-ttl", go=True, finished_ago=400,
        annotations={"gitops.io/cleanup-ttl": "5m"})

    sim.set_node_ready("node-ok", ready=True)
    sim.set_node_ready("node-down", ready=False)
    down = sim.get("v1", "Node", "node-down")
    down["status"]["conditions"][0]["lastTransitionTime"] = format_time(now - HOUR)
    down["metadata"].pop("resourceVersion")
    sim.update_status(down)

    def pod(name: str, *, go: bool, **kwargs: Any) -> None:
        sim.create(pod_dict(name, **kwargs))
        (gone if go else kept).add(name)

    stuck = now - HOUR
    pod("pod-node-gone", go=True, deleted=stuck, node="node-vanished")
    pod("pod-node-down", go=True, deleted=stuck, node="node-down", owner="ReplicaSet")
    pod("pod-statefulset-node-down", go=False, deleted=stuck, node="node-down",
        owner="StatefulSet")
    pod("pod-finalizer", go=False, deleted=stuck, node="node-vanished",
        finalizers=["example.com/hold"])
    pod("pod-running", go=False, node="node-ok")
    pod("pod-opted-out", go=False, deleted=stuck, node="node-vanished", annotations=OPT_OUT)
    pod("pod-excluded", go=False, deleted=stuck, node="node-vanished", namespace="kube-system")

    def event(name: str, *, go: bool, **kwargs: Any) -> None:
        sim.create(event_dict(name, **kwargs))
        (gone if go else kept).add(name)

    event("event-old", go=True, last=now - 2 * DAY)
    event("event-recent", go=False, last=now - HOUR)
    event("event-old-series-recent", go=False, event_time=now - 2 * DAY, series=now - HOUR)
    event("event-excluded", go=False, last=now - 2 * DAY, namespace="kube-system")

    web = sim.create(deployment_dict("web", revision=6))
    for revision in range(1, 7):
        rs = replicaset_dict(web, revision, created=now - 2 * HOUR)
        if revision == 6:
            rs["spec"]["replicas"] = rs["status"]["replicas"] = 2
        sim.create(rs)
        (gone if revision <= 2 else kept).add(rs["metadata"]["name"])
    return gone, kept


def names(sim: SimulatedCluster) -> set[str]:
    kinds = [("batch/v1", "Job"), ("v1", "Pod"), ("v1", "Event"), ("apps/v1", "ReplicaSet")]
    return {obj["metadata"]["name"] for kind in kinds for obj in sim.list(*kind)}


CONFIG = {"namespaces": {"exclude": ["kube-system"]}}


async def test_exactly_the_eligible_objects_of_every_kind_are_deleted(tmp_path: Path) -> None:
    async with cluster() as sim:
        gone, kept = seed(sim)
        async with running(sim, tmp_path, settings(**CONFIG)):
            await asyncio.sleep(600)
            present = names(sim)
            stuck = REGISTRY.get_sample_value("gitops_cleanup_stuck_pods")
        assert kept <= present
        # Left stuck: the StatefulSet pod, the finalizer, the opted-out and the excluded one.
        assert stuck == 4
        assert not gone & present, f"should have been deleted: {sorted(gone & present)}"


async def test_dry_run_deletes_nothing_and_reports_everything_it_would(tmp_path: Path) -> None:
    before = {policy: _dry_runs(policy) for policy in POLICIES}
    async with cluster() as sim:
        gone, kept = seed(sim)
        async with running(sim, tmp_path, settings(**CONFIG, dryRun=True)) as env:
            await asyncio.sleep(600)
            assert gone | kept <= names(sim)
            assert not env.deletes(""), "dry-run sent a DELETE"
            assert not [r for r in sim.requests if r.method in {"PATCH", "PUT", "POST"}]
    reported = {policy: _dry_runs(policy) - before[policy] for policy in POLICIES}
    assert reported["completedJobs"] >= 3
    assert reported["failedJobs"] >= 1
    assert reported["stuckPods"] >= 2
    assert reported["events"] >= 1
    assert reported["replicaSets"] >= 2


async def test_a_policy_set_to_dry_run_only_reports_while_the_others_delete(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        gone, _ = seed(sim)
        config = settings(**CONFIG, controller={"policies": {"failedJobs": {"dryRun": True}}})
        async with running(sim, tmp_path, config):
            await asyncio.sleep(600)
            present = names(sim)
    assert "job-failed-old" in present
    assert not (gone - {"job-failed-old"}) & present


POLICIES = ("completedJobs", "failedJobs", "stuckPods", "events", "replicaSets")


def _dry_runs(policy: str) -> float:
    return REGISTRY.get_sample_value("gitops_cleanup_dry_run_total", {"policy": policy}) or 0.0
