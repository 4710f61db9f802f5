"""Write conformance: create, update, patch, generation and the status subresource.

Follows the Kubernetes API concepts ("Resource versions", "Patch operations") and the API
conventions on concurrency control, metadata.generation and the status subresource
(https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md).
"""

from __future__ import annotations

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from sim_objects import job, pod

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation import ApiError, SimulatedCluster


async def test_create_sets_uid_timestamp_generation_and_a_new_resource_version(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    before = sim.resource_version
    created = await client.BatchV1Api(api).create_namespaced_job("default", job("a"))
    assert created.metadata.uid
    assert created.metadata.generation == 1
    assert int(created.metadata.resource_version) == before + 1
    assert created.metadata.creation_timestamp.timestamp() == 1_700_000_000


async def test_creating_a_taken_name_is_409_already_exists(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    sim.create(job("a"))
    with pytest.raises(ApiException) as caught:
        await client.BatchV1Api(api).create_namespaced_job("default", job("a"))
    assert caught.value.status == 409
    assert '"reason":"AlreadyExists"' in caught.value.body


async def test_generate_name_gets_a_random_suffix(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    body = job("")
    body["metadata"] = {"generateName": "run-"}
    created = await client.BatchV1Api(api).create_namespaced_job("default", body)
    assert created.metadata.name.startswith("run-")
    assert len(created.metadata.name) == len("run-") + 5


async def test_an_update_with_a_stale_resource_version_is_409_conflict(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """API conventions, concurrency control: optimistic locking on resourceVersion."""
    batch = client.BatchV1Api(api)
    stale = sim.create(job("a"))
    sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "1"}}}, namespace="default")
    with pytest.raises(ApiException) as caught:
        await batch.replace_namespaced_job("a", "default", stale)
    assert caught.value.status == 409
    assert "the object has been modified" in caught.value.body


async def test_generation_moves_with_spec_changes_only(sim: SimulatedCluster) -> None:
    """API conventions: metadata.generation counts changes of the desired state."""
    sim.create(job("a"))
    labelled = sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "1"}}},
                         namespace="default")
    suspended = sim.patch("batch/v1", "Job", "a", {"spec": {"suspend": True}},
                          namespace="default")
    assert labelled["metadata"]["generation"] == 1
    assert suspended["metadata"]["generation"] == 2


async def test_the_main_endpoint_ignores_status_and_the_status_endpoint_changes_only_status(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """API conventions: the status subresource."""
    sim.create(job("a"))
    batch = client.BatchV1Api(api)
    await batch.patch_namespaced_job("a", "default", {"status": {"active": 3}})
    await batch.patch_namespaced_job_status(
        "a", "default", {"status": {"succeeded": 1}, "spec": {"suspend": True}})
    stored = sim.get("batch/v1", "Job", "a", "default")
    assert stored["status"] == {"succeeded": 1}
    assert stored["spec"]["suspend"] is False  # the default, not the status request's


async def test_an_update_that_changes_nothing_keeps_the_resource_version(
    sim: SimulatedCluster,
) -> None:
    created = sim.create(job("a"))
    again = sim.update(created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_json_patch_and_strategic_merge_patch(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """API concepts, patch operations: JSON patch (RFC 6902) and strategic merge patch."""
    sim.create(pod("p", metadata={"finalizers": ["a/one"]},
                   status={"phase": "Running", "conditions": [
                       {"type": "Ready", "status": "False"}]}))
    url = "/api/v1/namespaces/default/pods/p"
    json_patch = [{"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}]
    response = await http.patch(url, json=json_patch,
                                headers={"Content-Type": "application/json-patch+json"})
    assert response.status == 200
    strategic = {"metadata": {"finalizers": ["b/two"]}}
    await http.patch(url, json=strategic,
                     headers={"Content-Type": "application/strategic-merge-patch+json"})
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    await http.patch(f"{url}/status", json=status,
                     headers={"Content-Type": "application/strategic-merge-patch+json"})
    stored = sim.get("v1", "Pod", "p", "default")
    assert stored["metadata"]["labels"] == {"k": "v"}
    assert stored["metadata"]["finalizers"] == ["a/one", "b/two"]
    assert stored["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


async def test_a_merge_patch_with_a_stale_resource_version_is_409(
    sim: SimulatedCluster,
) -> None:
    created = sim.create(job("a"))
    sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "1"}}}, namespace="default")
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"],
                          "labels": {"x": "2"}}}
    with pytest.raises(ApiError) as caught:
        sim.patch("batch/v1", "Job", "a", stale, namespace="default")
    assert caught.value.code == 409


async def test_an_unknown_patch_type_is_415(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    sim.create(job("a"))
    response = await http.patch("/apis/batch/v1/namespaces/default/jobs/a", data="{}",
                                headers={"Content-Type": "text/plain"})
    assert response.status == 415


async def test_errors_are_status_objects(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """API conventions: failures answer a Status with reason, code and details."""
    response = await http.get("/apis/batch/v1/namespaces/default/jobs/missing")
    status = await response.json()
    assert response.status == 404
    assert status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'jobs.batch "missing" not found', "reason": "NotFound",
        "details": {"name": "missing", "group": "batch", "kind": "jobs"}, "code": 404,
    }


async def test_timestamps_come_from_the_injected_clock(sim: SimulatedCluster) -> None:
    sim.clock.advance(3600)
    created = sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "c", "namespace": "default"}})
    assert created["metadata"]["creationTimestamp"] == format_time(1_700_003_600)


async def test_strategic_merge_patch_merges_service_ports_by_port_and_container_ports_by_number(
    sim: SimulatedCluster,
) -> None:
    """The `patchMergeKey` of ServiceSpec.ports is `port`; of Container.ports `containerPort`."""
    sim.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"ports": [{"name": "a", "port": 80, "targetPort": 80}]}})
    sim.create(pod("p", spec={"containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]}))
    service = sim.patch("v1", "Service", "s", {"spec": {"ports": [
        {"name": "b", "port": 8080}, {"name": "renamed", "port": 80}]}},
        namespace="default", patch_type="strategic")
    patched = sim.patch("v1", "Pod", "p", {"spec": {"containers": [
        {"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}]}},
        namespace="default", patch_type="strategic")
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [
        ("renamed", 80), ("b", 8080)]
    assert patched["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "name": "http", "protocol": "TCP"}]  # protocol: the default
