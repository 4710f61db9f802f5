"""A cluster that runs: Deployments, ReplicaSets, ReplicationControllers, DaemonSets, CronJobs
and the garbage collector, at the speed of the simulated clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gitops_lifecycle.clock import SimClock, parse_time
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.kubeapi.controllers.cronjobs import schedule_times

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
REVISION = "deployment.kubernetes.io/revision"
pytestmark = pytest.mark.looptime


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCluster]:
    async with SimulatedCluster(clock=SimClock(start=START), controllers=True) as cluster:
        cluster.set_node_ready("node-1")
        yield cluster


async def until(check: Callable[[], Any], seconds: float = 600) -> Any:
    """Poll `check` every simulated half second until it answers something truthy."""
    for _ in range(int(seconds * 2)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.5)
    pytest.fail(f"not within {seconds} s")


def template(image: str = "nginx:1") -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment(replicas: int = 2, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": template(image), **spec}}


def running(sim: SimulatedCluster, **labels: str) -> list[dict[str, Any]]:
    selector = ",".join(f"{k}={v}" for k, v in labels.items()) or None
    return [p for p in sim.list("v1", "Pod", "default", label_selector=selector)
            if p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp")]


def replica_sets(sim: SimulatedCluster) -> dict[str, dict[str, Any]]:
    return {rs["metadata"]["annotations"][REVISION]: rs
            for rs in sim.list("apps/v1", "ReplicaSet", "default")}


async def test_a_deployment_rolls_out_a_numbered_replica_set_and_its_pods_run(
    sim: SimulatedCluster,
) -> None:
    sim.create(deployment())
    await until(lambda: len(running(sim)) == 2)
    found = await until(lambda: (d := sim.get("apps/v1", "Deployment", "web", "default"))
                        and d["status"].get("availableReplicas") == 2 and d)
    sets = replica_sets(sim)
    assert list(sets) == ["1"]
    assert found["metadata"]["annotations"][REVISION] == "1"
    hashed = sets["1"]["metadata"]["labels"]["pod-template-hash"]
    assert sets["1"]["metadata"]["name"] == f"web-{hashed}"
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in running(sim)} == {hashed}
    conditions = {c["type"]: c["reason"] for c in found["status"]["conditions"]}
    assert conditions == {"Available": "MinimumReplicasAvailable",
                          "Progressing": "NewReplicaSetAvailable"}


async def test_a_new_template_rolls_out_revision_two_and_scales_the_old_set_to_zero(
    sim: SimulatedCluster,
) -> None:
    sim.create(deployment())
    await until(lambda: len(running(sim)) == 2)
    sim.patch("apps/v1", "Deployment", "web", {"spec": {"template": template("nginx:2")}},
              namespace="default")
    await until(lambda: len(replica_sets(sim)) == 2
                and replica_sets(sim)["1"]["spec"]["replicas"] == 0)
    await until(lambda: len(running(sim)) == 2)
    sets = replica_sets(sim)
    images = {p["spec"]["containers"][0]["image"] for p in running(sim)}
    found = sim.get("apps/v1", "Deployment", "web", "default")
    assert found is not None
    assert (sets["2"]["spec"]["replicas"], images) == (2, {"nginx:2"})
    assert found["metadata"]["annotations"][REVISION] == "2"


async def test_old_replica_sets_beyond_the_revision_history_limit_are_deleted(
    sim: SimulatedCluster,
) -> None:
    sim.create(deployment(replicas=1, revisionHistoryLimit=2))
    for version in range(2, 6):
        await until(lambda: len(running(sim)) == 1)
        sim.patch("apps/v1", "Deployment", "web",
                  {"spec": {"template": template(f"nginx:{version}")}}, namespace="default")
        await asyncio.sleep(30)
    await until(lambda: set(replica_sets(sim)) == {"3", "4", "5"})


async def test_a_replica_set_replaces_a_deleted_pod_and_scales_down(
    sim: SimulatedCluster,
) -> None:
    sim.create({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "rs", "namespace": "default"},
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                         "template": template()}})
    pods = await until(lambda: len(running(sim)) == 3 and running(sim))
    sim.delete("v1", "Pod", pods[0]["metadata"]["name"], namespace="default",
               grace_period_seconds=0)
    await until(lambda: len(running(sim)) == 3)
    sim.patch("apps/v1", "ReplicaSet", "rs", {"spec": {"replicas": 1}}, namespace="default")
    await until(lambda: len(running(sim)) == 1)
    found = await until(lambda: (rs := sim.get("apps/v1", "ReplicaSet", "rs", "default"))
                        and rs["status"]["replicas"] == 1 and rs)
    assert found["status"]["readyReplicas"] == 1
    assert found["status"]["observedGeneration"] == found["metadata"]["generation"]


async def test_a_replication_controller_keeps_its_replicas_running(
    sim: SimulatedCluster,
) -> None:
    sim.create({"apiVersion": "v1", "kind": "ReplicationController",
                "metadata": {"name": "rc", "namespace": "default"},
                "spec": {"replicas": 2, "selector": {"app": "web"}, "template": template()}})
    await until(lambda: len(running(sim)) == 2)
    owners = {p["metadata"]["ownerReferences"][0]["kind"] for p in running(sim)}
    assert owners == {"ReplicationController"}


async def test_a_daemon_set_runs_one_pod_on_each_ready_node(sim: SimulatedCluster) -> None:
    sim.set_node_ready("node-2")
    sim.set_node_ready("node-3", ready=False)
    sim.create({"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": "agent", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}})
    await until(lambda: len(running(sim)) == 2)
    nodes = sorted(p["spec"]["nodeName"] for p in running(sim))
    sim.set_node_ready("node-3")
    await until(lambda: len(running(sim)) == 3)
    found = sim.get("apps/v1", "DaemonSet", "agent", "default")
    assert found is not None
    assert nodes == ["node-1", "node-2"]
    assert found["status"]["desiredNumberScheduled"] == 3


async def test_a_cron_job_creates_jobs_on_schedule_and_keeps_its_history(
    sim: SimulatedCluster,
) -> None:
    sim.create({"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": "tick", "namespace": "default"},
                "spec": {"schedule": "*/5 * * * *", "successfulJobsHistoryLimit": 2,
                         "jobTemplate": {"spec": {"template": {"spec": {
                             "restartPolicy": "Never",
                             "containers": [{"name": "c", "image": "busybox",
                                             "command": ["sleep", "10"]}]}}}}}})
    await asyncio.sleep(20 * 60)
    jobs = sorted(sim.list("batch/v1", "Job", "default"),
                  key=lambda j: j["metadata"]["name"])
    cronjob = sim.get("batch/v1", "CronJob", "tick", "default")
    assert cronjob is not None
    # 22:15, 22:20, 22:25 and 22:30 ran; the two latest are kept
    assert [j["metadata"]["name"] for j in jobs] == [
        f"tick-{int(START // 60) + 12}", f"tick-{int(START // 60) + 17}"]
    assert all(j["status"].get("succeeded") == 1 for j in jobs)
    assert parse_time(cronjob["status"]["lastScheduleTime"]) == START + 1000
    assert "active" not in cronjob["status"]


async def test_objects_whose_owners_are_all_gone_are_collected(sim: SimulatedCluster) -> None:
    owner = sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "owner", "namespace": "default"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner"}
    sim.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "kept", "namespace": "default",
        "ownerReferences": [{**ref, "uid": owner["metadata"]["uid"]}]}})
    sim.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "orphan", "namespace": "default",
        "ownerReferences": [{**ref, "name": "gone", "uid": "no-such-uid"}]}})
    await until(lambda: sim.get("v1", "ConfigMap", "orphan", "default") is None)
    assert sim.get("v1", "ConfigMap", "kept", "default") is not None


async def test_a_seeded_settled_deployment_and_its_sets_stay_as_written(
    sim: SimulatedCluster,
) -> None:
    seeded = sim.load_scenario("""
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: default, annotations: {deployment.kubernetes.io/revision: "3"}}
    spec: {replicas: 2, selector: {matchLabels: {app: web}},
           template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: x}]}}}
    status: {observedGeneration: 1, replicas: 2, readyReplicas: 2}
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: web-3
      namespace: default
      annotations: {deployment.kubernetes.io/revision: "3"}
      ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web}]
    spec: {replicas: 2, selector: {matchLabels: {app: web}},
           template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: x}]}}}
    status: {replicas: 2, observedGeneration: 1}
""")
    await asyncio.sleep(600)
    now = [sim.get("apps/v1", "Deployment", "web", "default"),
           sim.get("apps/v1", "ReplicaSet", "web-3", "default")]
    assert now == seeded
    assert sim.list("v1", "Pod") == []


async def test_the_controllers_record_what_they_did_as_events(sim: SimulatedCluster) -> None:
    sim.create({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "j", "namespace": "default"},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "busybox", "command": ["sleep", "1"]}]}}}})
    await until(lambda: any(e["reason"] == "Completed" for e in sim.list("v1", "Event")))
    events = sorted((e["involvedObject"]["kind"], e["reason"], e["source"]["component"])
                    for e in sim.list("v1", "Event"))
    assert events == [("Job", "Completed", "job-controller"),
                      ("Job", "SuccessfulCreate", "job-controller"),
                      ("Pod", "Scheduled", "default-scheduler"),
                      ("Pod", "Started", "kubelet")]


async def test_rolling_back_returns_to_the_old_replica_set_under_the_next_revision(
    sim: SimulatedCluster,
) -> None:
    sim.create(deployment())
    await until(lambda: len(running(sim)) == 2)
    sim.patch("apps/v1", "Deployment", "web", {"spec": {"template": template("nginx:2")}},
              namespace="default")
    await until(lambda: {p["spec"]["containers"][0]["image"] for p in running(sim)}
                == {"nginx:2"})
    first = replica_sets(sim)["1"]["metadata"]["name"]
    # `kubectl rollout undo` sends the old set's template as Go serialises it: `resources: {}`
    undo = template()
    undo["spec"]["containers"][0]["resources"] = {}
    sim.patch("apps/v1", "Deployment", "web", {"spec": {"template": undo}},
              namespace="default")
    await until(lambda: set(replica_sets(sim)) == {"2", "3"})
    assert replica_sets(sim)["3"]["metadata"]["name"] == first


@pytest.mark.parametrize(("now", "latest", "upcoming"), [
    ("2023-11-14T22:30:00Z", "2023-11-14T22:30:00Z", "2023-11-14T22:35:00Z"),
    ("2023-11-14T22:30:10Z", "2023-11-14T22:30:00Z", "2023-11-14T22:35:00Z"),
    ("2023-11-14T22:29:59Z", "2023-11-14T22:25:00Z", "2023-11-14T22:30:00Z"),
])
def test_a_schedule_names_the_latest_time_due_and_the_next(
    now: str, latest: str, upcoming: str,
) -> None:
    times = schedule_times({"schedule": "*/5 * * * *"}, parse_time(now) or 0)
    assert times == (parse_time(latest), parse_time(upcoming))
