"""Deletion conformance: preconditions, graceful deletion, finalizers, garbage collection.

Follows the Kubernetes documentation: "Finalizers", "Garbage Collection" (cascading deletion,
owners and dependents), "Pod lifecycle: termination of Pods" and the DeleteOptions
preconditions of the API reference.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from sim_objects import job, node, owned_by, pod

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation import ApiError, SimulatedCluster


async def test_a_uid_precondition_protects_a_recreated_object(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """DeleteOptions.preconditions.uid: never delete a newer object of the same name."""
    old = sim.create(job("a"))
    sim.delete("batch/v1", "Job", "a", namespace="default")
    sim.create(job("a"))
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(
        uid=old["metadata"]["uid"]))
    with pytest.raises(ApiException) as caught:
        await client.BatchV1Api(api).delete_namespaced_job("a", "default", body=options)
    assert caught.value.status == 409
    assert "Precondition failed: UID in precondition" in caught.value.body
    assert sim.get("batch/v1", "Job", "a", "default") is not None


async def test_a_resource_version_precondition_refuses_a_changed_object(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    seen = sim.create(job("a"))
    sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "y"}}}, namespace="default")
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(
        resource_version=seen["metadata"]["resourceVersion"]))
    with pytest.raises(ApiException) as caught:
        await client.BatchV1Api(api).delete_namespaced_job("a", "default", body=options)
    assert caught.value.status == 409


async def test_matching_preconditions_delete(sim: SimulatedCluster, api: client.ApiClient) -> None:
    seen = sim.create(job("a"))
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(
        uid=seen["metadata"]["uid"], resource_version=seen["metadata"]["resourceVersion"]),
        propagation_policy="Background")
    await client.BatchV1Api(api).delete_namespaced_job("a", "default", body=options)
    assert sim.get("batch/v1", "Job", "a", "default") is None


async def test_dry_run_deletes_nothing(sim: SimulatedCluster, http: aiohttp.ClientSession) -> None:
    sim.create(job("a"))
    response = await http.delete("/apis/batch/v1/namespaces/default/jobs/a",
                                 params={"dryRun": "All"})
    assert response.status == 200
    assert sim.get("batch/v1", "Job", "a", "default") is not None


async def test_a_pod_deleted_gracefully_stays_terminating_until_the_kubelet_finishes_it(
    sim: SimulatedCluster,
) -> None:
    """Pod termination: deletionTimestamp = now + grace; the kubelet removes it after."""
    sim.create(node("node-1"))
    sim.create(pod("p"))
    deleted = sim.delete("v1", "Pod", "p", namespace="default", grace_period_seconds=30)
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 30
    assert deleted["metadata"]["deletionTimestamp"] == format_time(sim.clock.now() + 30)
    sim.clock.advance(29)
    sim.step_kubelet()
    assert sim.get("v1", "Pod", "p", "default") is not None
    sim.clock.advance(2)
    sim.step_kubelet()
    assert sim.get("v1", "Pod", "p", "default") is None


@pytest.mark.looptime
async def test_the_kubelet_loop_removes_a_pod_when_its_grace_period_ends(
    sim: SimulatedCluster,
) -> None:
    sim.create(node("node-1"))
    sim.create(pod("p"))
    sim.delete("v1", "Pod", "p", namespace="default", grace_period_seconds=10)
    sim.clock.advance(11)
    for _ in range(5):
        await asyncio.sleep(0)
    assert sim.get("v1", "Pod", "p", "default") is None


@pytest.mark.parametrize("node_state", ["not-ready", "gone"])
async def test_a_pod_on_a_dead_node_stays_terminating(
    sim: SimulatedCluster, node_state: str
) -> None:
    """Nobody confirms the containers stopped on a NotReady or vanished node."""
    if node_state == "not-ready":
        sim.create(node("node-1", ready=False))
    sim.create(pod("p"))
    sim.delete("v1", "Pod", "p", namespace="default")
    sim.clock.advance(3600)
    sim.step_kubelet()
    assert sim.get("v1", "Pod", "p", "default")["metadata"]["deletionTimestamp"]


async def test_grace_period_zero_and_unscheduled_pods_go_at_once(sim: SimulatedCluster) -> None:
    sim.create(pod("forced"))
    sim.create(pod("pending", node=None))
    sim.delete("v1", "Pod", "forced", namespace="default", grace_period_seconds=0)
    sim.delete("v1", "Pod", "pending", namespace="default")
    assert sim.list("v1", "Pod") == []


async def test_finalizers_hold_an_object_until_the_last_is_removed(
    sim: SimulatedCluster,
) -> None:
    """Finalizers: deletion sets deletionTimestamp; removing the last finalizer deletes."""
    sim.create(job("a", metadata={"finalizers": ["example.com/a", "example.com/b"]}))
    marked = sim.delete("batch/v1", "Job", "a", namespace="default")
    assert marked["metadata"]["deletionTimestamp"]
    sim.patch("batch/v1", "Job", "a", [{"op": "remove", "path": "/metadata/finalizers/0"}],
              namespace="default", patch_type="json")
    assert sim.get("batch/v1", "Job", "a", "default") is not None
    sim.patch("batch/v1", "Job", "a", {"metadata": {"finalizers": None}}, namespace="default")
    assert sim.get("batch/v1", "Job", "a", "default") is None


async def test_no_finalizer_can_be_added_to_an_object_being_deleted(
    sim: SimulatedCluster,
) -> None:
    sim.create(job("a", metadata={"finalizers": ["example.com/a"]}))
    sim.delete("batch/v1", "Job", "a", namespace="default")
    with pytest.raises(ApiError) as caught:
        sim.patch("batch/v1", "Job", "a", {"metadata": {"finalizers": ["example.com/a", "x/y"]}},
                  namespace="default")
    assert caught.value.code == 422


async def test_a_finalized_pod_finished_by_the_kubelet_waits_for_its_finalizers(
    sim: SimulatedCluster,
) -> None:
    sim.create(node("node-1"))
    sim.create(pod("p", metadata={"finalizers": ["example.com/keep"]}))
    sim.delete("v1", "Pod", "p", namespace="default", grace_period_seconds=5)
    sim.clock.advance(6)
    sim.step_kubelet()
    held = sim.get("v1", "Pod", "p", "default")
    assert held["metadata"]["deletionGracePeriodSeconds"] == 0
    sim.patch("v1", "Pod", "p", {"metadata": {"finalizers": None}}, namespace="default")
    assert sim.get("v1", "Pod", "p", "default") is None


def _job_with_pods(sim: SimulatedCluster) -> dict:
    sim.create(node("node-1"))
    owner = sim.create(job("a"))
    for index in range(2):
        sim.create(pod(f"a-{index}", metadata={"ownerReferences": [owned_by(owner)]}))
    return owner


async def test_background_propagation_deletes_dependents_after_the_owner(
    sim: SimulatedCluster,
) -> None:
    """Garbage collection, background cascading deletion."""
    _job_with_pods(sim)
    sim.delete("batch/v1", "Job", "a", namespace="default", propagation_policy="Background")
    assert sim.get("batch/v1", "Job", "a", "default") is None
    terminating = sim.list("v1", "Pod")
    assert all(p["metadata"]["deletionTimestamp"] for p in terminating)
    sim.clock.advance(31)
    sim.step_kubelet()
    assert sim.list("v1", "Pod") == []


async def test_jobs_orphan_their_pods_by_default_as_the_batch_api_does(
    sim: SimulatedCluster,
) -> None:
    """Garbage collection: batch/v1 Jobs default to orphan propagation."""
    _job_with_pods(sim)
    sim.delete("batch/v1", "Job", "a", namespace="default")
    pods = sim.list("v1", "Pod")
    assert len(pods) == 2
    assert all("ownerReferences" not in p["metadata"] for p in pods)


async def test_foreground_propagation_keeps_the_owner_until_its_dependents_are_gone(
    sim: SimulatedCluster,
) -> None:
    """Garbage collection, foreground cascading deletion: the foregroundDeletion finalizer."""
    _job_with_pods(sim)
    owner = sim.delete("batch/v1", "Job", "a", namespace="default",
                       propagation_policy="Foreground")
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert owner["metadata"]["deletionTimestamp"]
    sim.clock.advance(31)
    sim.step_kubelet()
    assert sim.list("v1", "Pod") == []
    assert sim.get("batch/v1", "Job", "a", "default") is None


async def test_a_dependent_with_another_live_owner_survives(sim: SimulatedCluster) -> None:
    """Garbage collection: a dependent goes only when all its owners are gone."""
    first, second = sim.create(job("a")), sim.create(job("b"))
    sim.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "shared", "namespace": "default",
        "ownerReferences": [owned_by(first, controller=False),
                            owned_by(second, controller=False)]}})
    sim.delete("batch/v1", "Job", "a", namespace="default", propagation_policy="Background")
    shared = sim.get("v1", "ConfigMap", "shared", "default")
    assert [ref["name"] for ref in shared["metadata"]["ownerReferences"]] == ["b"]


async def test_deleting_a_namespace_deletes_its_contents(sim: SimulatedCluster) -> None:
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}})
    sim.create(job("a", "tmp"))
    sim.delete("v1", "Namespace", "tmp")
    assert sim.list("batch/v1", "Job", "tmp") == []
    assert sim.get("v1", "Namespace", "tmp") is None
