"""A cluster that runs: the scheduler, the kubelet, the Job and TTL-after-finished controllers,
seen through kubernetes-asyncio at the speed of the simulated clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from gitops_lifecycle.clock import SimClock, parse_time
from gitops_lifecycle.simulation import SimulatedCluster

START = 1_700_000_000.0
pytestmark = pytest.mark.looptime


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCluster]:
    async with SimulatedCluster(clock=SimClock(start=START), controllers=True) as cluster:
        cluster.set_node_ready("node-1")
        yield cluster


@pytest.fixture
async def api(sim: SimulatedCluster, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    configuration = client.Configuration()
    await config.load_kube_config(str(sim.write_kubeconfig(tmp_path / "kubeconfig")),
                                  client_configuration=configuration)
    async with client.ApiClient(configuration) as api_client:
        yield api_client


async def until(check: Callable[[], Any], seconds: float = 600) -> Any:
    """Poll `check` every simulated half second until it answers something truthy."""
    for _ in range(int(seconds * 2)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.5)
    pytest.fail(f"not within {seconds} s")


def job(name: str, command: str = "sleep 5", **spec: Any) -> dict[str, Any]:
    annotations = spec.pop("annotations", {})
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {
        **spec, "template": {"metadata": {"annotations": annotations}, "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox",
                            "command": ["sh", "-c", command]}]}}}}


def pod(name: str, command: str = "sleep 5", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", command]}]}}


def phase(sim: SimulatedCluster, name: str) -> str | None:
    found = sim.get("v1", "Pod", name, "default")
    return None if found is None else found["status"]["phase"]


async def test_a_pod_is_bound_to_the_ready_node_runs_for_its_sleep_and_succeeds(
    sim: SimulatedCluster, api: client.ApiClient,
) -> None:
    created = await client.CoreV1Api(api).create_namespaced_pod("default", pod("p"))
    await until(lambda: phase(sim, "p") == "Running")
    running = sim.get("v1", "Pod", "p", "default")
    await until(lambda: phase(sim, "p") == "Succeeded")
    done = await client.CoreV1Api(api).read_namespaced_pod("p", "default")
    terminated = done.status.container_statuses[0].state.terminated
    assert created.status.phase == "Pending"
    assert running is not None
    assert running["spec"]["nodeName"] == "node-1"
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert (terminated.finished_at - terminated.started_at).total_seconds() == 5


async def test_a_pod_exits_with_the_code_its_annotation_gives_and_fails(
    sim: SimulatedCluster, api: client.ApiClient,
) -> None:
    body = pod("p", "true", annotations={"simulation.gitops.io/exit-code": "3",
                                         "simulation.gitops.io/runs-for": "2m"})
    await client.CoreV1Api(api).create_namespaced_pod("default", body)
    await until(lambda: phase(sim, "p") == "Failed")
    failed = sim.get("v1", "Pod", "p", "default")
    assert failed is not None
    state = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (state["exitCode"], state["reason"]) == (3, "Error")
    assert parse_time(state["finishedAt"]) - parse_time(state["startedAt"]) == 120  # type: ignore[operator]


async def test_a_pod_waits_unschedulable_until_a_node_is_ready(
    sim: SimulatedCluster, api: client.ApiClient,
) -> None:
    sim.set_node_ready("node-1", ready=False)
    await client.CoreV1Api(api).create_namespaced_pod("default", pod("p"))
    await asyncio.sleep(60)
    waiting = sim.get("v1", "Pod", "p", "default")
    sim.set_node_ready("node-1")
    await until(lambda: phase(sim, "p") == "Running")
    assert waiting is not None
    assert "nodeName" not in waiting["spec"]
    assert waiting["status"]["conditions"][0]["reason"] == "Unschedulable"


async def test_a_job_runs_a_pod_and_completes_with_its_completion_time(
    sim: SimulatedCluster, api: client.ApiClient,
) -> None:
    batch = client.BatchV1Api(api)
    await batch.create_namespaced_job("default", job("j"))
    await until(lambda: (sim.get("batch/v1", "Job", "j", "default") or {})
                .get("status", {}).get("active") == 1)
    done = await until(lambda: _finished(sim, "j"))
    read = await batch.read_namespaced_job("j", "default")
    pods = sim.list("v1", "Pod", "default", label_selector="job-name=j")
    assert done == "Complete"
    assert (read.status.succeeded, read.status.active, read.status.failed) == (1, 0, 0)
    assert (read.status.completion_time - read.status.start_time).total_seconds() == 5
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]


async def test_a_job_with_completions_and_parallelism_runs_pods_side_by_side(
    sim: SimulatedCluster,
) -> None:
    sim.create(job("j", completions=3, parallelism=2))
    most = 0
    while not _finished(sim, "j"):
        status = (sim.get("batch/v1", "Job", "j", "default") or {}).get("status") or {}
        most = max(most, status.get("active") or 0)
        await asyncio.sleep(0.5)
    found = sim.get("batch/v1", "Job", "j", "default")
    assert found is not None
    assert (found["status"]["succeeded"], most) == (3, 2)
    assert parse_time(found["status"]["completionTime"]) == START + 10


async def test_a_failing_job_backs_off_and_fails_past_its_backoff_limit(
    sim: SimulatedCluster,
) -> None:
    sim.create(job("j", "exit 1", backoffLimit=2,
                   annotations={"simulation.gitops.io/exit-code": "1"}))
    assert await until(lambda: _finished(sim, "j")) == "Failed"
    found = sim.get("batch/v1", "Job", "j", "default")
    assert found is not None
    failed = next(c for c in found["status"]["conditions"] if c["type"] == "Failed")
    assert (found["status"]["failed"], failed["reason"]) == (3, "BackoffLimitExceeded")
    # the second pod after 10 s, the third 20 s after that
    assert parse_time(failed["lastTransitionTime"]) == START + 30


async def test_a_job_past_its_active_deadline_fails_and_its_pod_is_stopped(
    sim: SimulatedCluster,
) -> None:
    sim.create(job("j", "sleep 600", activeDeadlineSeconds=10))
    assert await until(lambda: _finished(sim, "j")) == "Failed"
    found = sim.get("batch/v1", "Job", "j", "default")
    assert found is not None
    failed = next(c for c in found["status"]["conditions"] if c["type"] == "Failed")
    pods = sim.list("v1", "Pod", "default")
    assert failed["reason"] == "DeadlineExceeded"
    assert parse_time(failed["lastTransitionTime"]) == START + 10
    assert all(p["metadata"].get("deletionTimestamp") for p in pods)
    await until(lambda: not sim.list("v1", "Pod", "default"))


async def test_a_finished_job_is_deleted_with_its_pods_at_its_ttl(
    sim: SimulatedCluster,
) -> None:
    sim.create(job("j", ttlSecondsAfterFinished=30))
    await until(lambda: _finished(sim, "j"))
    finished_at = sim.clock.now()
    await until(lambda: sim.get("batch/v1", "Job", "j", "default") is None)
    assert sim.clock.now() - finished_at == pytest.approx(30, abs=1)
    assert sim.list("v1", "Pod", "default") == []


async def test_a_job_seeded_finished_is_left_as_written_until_its_ttl(
    sim: SimulatedCluster,
) -> None:
    status = {"succeeded": 1, "completionTime": "2023-11-14T22:00:00Z",
              "conditions": [{"type": "Complete", "status": "True",
                              "lastTransitionTime": "2023-11-14T22:00:00Z"}]}
    seeded = sim.create({**job("done"), "status": status})
    with_ttl = sim.create({**job("expiring", ttlSecondsAfterFinished=3600), "status": status})
    await asyncio.sleep(600)
    assert sim.get("batch/v1", "Job", "done", "default") == seeded
    assert sim.get("batch/v1", "Job", "expiring", "default") == with_ttl
    assert sim.list("v1", "Pod", "default") == []
    await until(lambda: sim.get("batch/v1", "Job", "expiring", "default") is None, 3600)


def _finished(sim: SimulatedCluster, name: str) -> str | None:
    found = sim.get("batch/v1", "Job", name, "default")
    for condition in ((found or {}).get("status") or {}).get("conditions") or ():
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None


async def test_a_suspended_job_stops_its_pods_and_runs_again_when_resumed(
    sim: SimulatedCluster,
) -> None:
    sim.create(job("j", "sleep 60"))
    await until(lambda: phase(sim, _pod_of(sim, "j") or "") == "Running")
    sim.patch("batch/v1", "Job", "j", {"spec": {"suspend": True}}, namespace="default")
    await until(lambda: not sim.list("v1", "Pod", "default"))
    suspended = sim.get("batch/v1", "Job", "j", "default")
    await asyncio.sleep(600)
    still = sim.list("v1", "Pod", "default")
    sim.patch("batch/v1", "Job", "j", {"spec": {"suspend": False}}, namespace="default")
    assert await until(lambda: _finished(sim, "j")) == "Complete"
    assert suspended is not None
    conditions = {c["type"]: c["status"] for c in suspended["status"]["conditions"]}
    assert (conditions, suspended["status"]["active"], still) == ({"Suspended": "True"}, 0, [])


def _pod_of(sim: SimulatedCluster, name: str) -> str | None:
    pods = sim.list("v1", "Pod", "default", label_selector=f"job-name={name}")
    return pods[0]["metadata"]["name"] if pods else None
