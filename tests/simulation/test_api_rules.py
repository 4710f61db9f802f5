"""The API server's rules, each through the official `kubernetes` client or kubectl.

Each test names the Kubernetes documentation or source it follows. The official client is
synchronous: it runs in a thread while the simulated cluster serves in the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from clients import kubectl, kubectl_run, needs_kubectl
from kubernetes.client import ApiException
from sim_objects import proxy_config

from gitops_lifecycle.simulation import SimulatedCluster

Api = kubernetes.client.ApiClient


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, **kwargs)


async def refused(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """The status code and Status body of a call that must fail."""
    with pytest.raises(ApiException) as caught:
        await call(function, *args, **kwargs)
    return caught.value.status, json.loads(caught.value.body)


def causes(body: dict[str, Any]) -> dict[str, str]:
    return {c["field"]: c["message"] for c in body["details"]["causes"]}


def lease(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name}, "spec": spec}


# -- Leases (item 2, 11, 12) -----------------------------------------------------------------


async def test_a_lease_put_without_resource_version_is_422_and_put_creates_a_missing_one(
    official: Api, sim: SimulatedCluster,
) -> None:
    """pkg/registry/coordination/lease/strategy.go: AllowUnconditionalUpdate false,
    AllowCreateOnUpdate true; apiserver rest.BeforeUpdate: "must be specified for an update"."""
    leases = kubernetes.client.CoordinationV1Api(official)
    created = await call(leases.replace_namespaced_lease_with_http_info, "lock", "default",
                         lease("lock", holderIdentity="a", leaseDurationSeconds=15))
    code, body = await refused(leases.replace_namespaced_lease, "lock", "default",
                               lease("lock", holderIdentity="b"))
    assert created[1] == 201
    assert created[0].metadata.generation is None  # no generation on Leases (or Pods)
    assert code == 422
    assert causes(body) == {
        "metadata.resourceVersion": "Invalid value: 0x0: must be specified for an update"}


async def test_lease_fields_are_validated_and_times_are_written_back_in_utc_microseconds(
    official: Api, sim: SimulatedCluster, http: Any,
) -> None:
    """pkg/apis/coordination/validation ValidateLeaseSpec; metav1.MicroTime marshals as
    RFC 3339 with six fractional digits in UTC."""
    leases = kubernetes.client.CoordinationV1Api(official)
    code, body = await refused(leases.create_namespaced_lease, "default",
                               lease("bad", leaseDurationSeconds=-5, leaseTransitions=-1))
    async with http.post("/apis/coordination.k8s.io/v1/namespaces/default/leases",
                         json=lease("bad", renewTime="not-a-time")) as response:
        malformed = response.status, await response.json()
    async with http.post("/apis/coordination.k8s.io/v1/namespaces/default/leases",
                         json=lease("good", renewTime="2024-01-02T04:04:05.5+01:00")) as response:
        stored = await response.json()
    assert code == 422
    assert causes(body) == {
        "spec.leaseDurationSeconds": "Invalid value: -5: must be greater than 0",
        "spec.leaseTransitions": "Invalid value: -1: must be greater than or equal to 0"}
    assert malformed[0] == 400
    assert 'parsing time "not-a-time"' in malformed[1]["message"]
    assert stored["spec"]["renewTime"] == "2024-01-02T03:04:05.500000Z"


# -- Events (item 3) -------------------------------------------------------------------------


async def test_core_and_events_api_events_are_one_storage_with_fields_mapped(
    official: Api, sim: SimulatedCluster,
) -> None:
    """pkg/apis/events/v1/conversion.go: note<->message, regarding<->involvedObject,
    reportingController<->reportingComponent, deprecated* <-> the core fields."""
    events = kubernetes.client.EventsV1Api(official)
    body = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "backup.1", "namespace": "default"},
            "eventTime": "2024-01-02T03:04:05.000000Z", "type": "Normal", "reason": "Deleted",
            "action": "Delete", "note": "deleted", "reportingController": "gitops.io/cleanup",
            "reportingInstance": "replica-1",
            "regarding": {"kind": "Job", "name": "backup", "namespace": "default"}}
    await call(events.create_namespaced_event, "default", body)
    core = await call(kubernetes.client.CoreV1Api(official).read_namespaced_event,
                      "backup.1", "default")
    seen = await call(events.list_namespaced_event, "default",
                      field_selector="regarding.name=backup")
    assert (core.message, core.involved_object.name, core.reporting_component) == (
        "deleted", "backup", "gitops.io/cleanup")
    assert [e.note for e in seen.items] == ["deleted"]


async def test_events_are_validated_by_the_rules_of_the_api_they_came_through(
    official: Api, sim: SimulatedCluster,
) -> None:
    """pkg/apis/core/validation/events.go: legacyValidateEvent for core/v1; the strict rules
    (type Normal or Warning, eventTime) for events.k8s.io/v1."""
    sim.ensure_namespaces("ops")
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
            "reason": "X", "message": "m", "type": "Bogus"}
    new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
           "eventTime": "2024-01-02T03:04:05.000000Z", "type": "Bogus", "reason": "X",
           "action": "A", "reportingController": "c", "reportingInstance": "i",
           "regarding": {"kind": "Pod", "name": "p", "namespace": "ops"}}
    core_code, core_body = await refused(
        kubernetes.client.CoreV1Api(official).create_namespaced_event, "ops", core)
    new_code, new_body = await refused(
        kubernetes.client.EventsV1Api(official).create_namespaced_event, "ops", new)
    assert (core_code, new_code) == (422, 422)
    assert causes(core_body) == {
        "involvedObject.namespace": 'Invalid value: "": does not match event.namespace'}
    assert causes(new_body) == {"type": 'Invalid value: "": has invalid value: Bogus'}


async def test_put_creates_a_missing_event(official: Api, sim: SimulatedCluster) -> None:
    """pkg/registry/core/event/strategy.go: AllowCreateOnUpdate true."""
    body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "X", "message": "m", "type": "Normal"}
    _, status, _ = await call(
        kubernetes.client.CoreV1Api(official).replace_namespaced_event_with_http_info,
        "e1", "default", body)
    assert status == 201


# -- namespaces (item 4) ---------------------------------------------------------------------


async def test_namespaces_are_enforced_and_the_system_ones_exist_with_label_and_finalizer(
    official: Api, sim: SimulatedCluster,
) -> None:
    """Namespaces walkthrough; the NamespaceLifecycle admission plugin (404 for a missing
    namespace); the namespace strategy's `kubernetes.io/metadata.name` label and `kubernetes`
    finalizer."""
    core = kubernetes.client.CoreV1Api(official)
    code, body = await refused(core.create_namespaced_config_map, "nowhere",
                               {"metadata": {"name": "c"}})
    await call(core.create_namespace, {"metadata": {"name": "team-a"}})
    listed = await call(core.list_namespace)
    team = await call(core.read_namespace, "team-a")
    assert (code, body["message"]) == (404, 'namespaces "nowhere" not found')
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "team-a"} <= {
        n.metadata.name for n in listed.items}
    assert team.metadata.labels == {"kubernetes.io/metadata.name": "team-a"}
    assert team.spec.finalizers == ["kubernetes"]


# -- lists and watches (items 5, 6) ----------------------------------------------------------


async def test_pages_carry_remaining_item_count_and_a_limited_list_is_served_as_of_its_version(
    official: Api, sim: SimulatedCluster,
) -> None:
    """API concepts, "Retrieving large results sets in chunks" (remainingItemCount) and
    "Semantics for get and list" (resourceVersion with limit and no match: Exact)."""
    core = kubernetes.client.CoreV1Api(official)
    for index in range(5):
        sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"c{index}", "namespace": "default"}})
    before = str(sim.resource_version)
    sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "later", "namespace": "default"}})
    first = await call(core.list_namespaced_config_map, "default", limit=2)
    as_of = await call(core.list_namespaced_config_map, "default", limit=10,
                       resource_version=before)
    whole = await call(core.list_namespaced_config_map, "default", limit=2,
                       resource_version="0")
    code, body = await refused(core.list_namespaced_config_map, "default",
                               resource_version_match="Bogus", resource_version="1")
    assert first.metadata.remaining_item_count == 4
    assert [c.metadata.name for c in as_of.items] == [f"c{i}" for i in range(5)]
    assert len(whole.items) == 6
    assert whole.metadata._continue is None
    assert code == 422
    assert "resourceVersionMatch" in causes(body)


async def test_watch_list_ends_its_initial_events_with_an_annotated_bookmark(
    sim: SimulatedCluster, http: Any,
) -> None:
    """KEP-3157 "Watch list": sendInitialEvents=true ends the initial state with a BOOKMARK
    annotated `k8s.io/initial-events-end: "true"`."""
    sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "default"}})
    params = {"watch": "1", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
              "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "1"}
    async with http.get("/api/v1/namespaces/default/configmaps", params=params) as response:
        lines = [json.loads(line) for line in (await response.read()).splitlines()]
    async with http.get("/api/v1/configmaps", params={
            "watch": "1", "sendInitialEvents": "true"}) as refused_watch:
        code = refused_watch.status
    assert [line["type"] for line in lines[:2]] == ["ADDED", "BOOKMARK"]
    assert lines[1]["object"]["metadata"]["annotations"] == {
        "k8s.io/initial-events-end": "true"}
    assert code == 422


# -- deletes and patches (items 7, 9) --------------------------------------------------------


async def test_delete_answers_status_where_the_store_does_and_the_object_for_pods(
    official: Api, sim: SimulatedCluster,
) -> None:
    """k8s.io/apiserver registry/generic/registry/store.go: ReturnDeletedObject (true for
    pods), otherwise a Status with details{name, group, kind, uid}."""
    core = kubernetes.client.CoreV1Api(official)
    made = sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "c", "namespace": "default"}})
    status = await call(core.delete_namespaced_config_map, "c", "default")
    sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace":
                "default"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    pod = await call(core.delete_namespaced_pod, "p", "default")
    assert (status.status, status.details.name, status.details.kind, status.details.uid) == (
        "Success", "c", "configmaps", made["metadata"]["uid"])
    assert pod.kind == "Pod"


async def test_strategic_merge_patch_of_a_custom_resource_is_415(
    sim: SimulatedCluster, http: Any,
) -> None:
    """API concepts, "Patch": custom resources do not support strategic merge patch."""
    sim.create(proxy_config("p"))
    async with http.patch("/apis/gitops.io/v1/namespaces/default/proxyconfigs/p",
                          data=b'{"metadata":{"labels":{"a":"b"}}}', headers={
                              "Content-Type": "application/strategic-merge-patch+json"}) as r:
        assert r.status == 415


# -- validation (item 10) --------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "body", "field"), [
    ("ConfigMap", {"metadata": {"name": "Bad_Name"}}, "metadata.name"),
    ("ConfigMap", {"metadata": {"name": "c", "labels": {"bad key": "x"}}}, "metadata.labels"),
    ("Pod", {"metadata": {"name": "p"}}, "spec.containers"),
    ("Deployment", {"metadata": {"name": "d"}, "spec": {}}, "spec.selector"),
    ("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]}},
     "spec.containers[0].ports[0].containerPort"),
    ("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": -1}]}]}},
     "spec.containers[0].ports[0].hostPort"),
])
async def test_invalid_objects_are_422_naming_each_field(
    official: Api, sim: SimulatedCluster, kind: str, body: dict[str, Any], field: str,
) -> None:
    """pkg/apis/core/validation and apps/validation; apimachinery ValidateObjectMeta
    (IsDNS1123Subdomain, IsQualifiedName); errors.NewInvalid puts each in details.causes."""
    create = {
        "ConfigMap": kubernetes.client.CoreV1Api(official).create_namespaced_config_map,
        "Pod": kubernetes.client.CoreV1Api(official).create_namespaced_pod,
        "Deployment": kubernetes.client.AppsV1Api(official).create_namespaced_deployment,
    }[kind]
    code, status = await refused(create, "default", body)
    assert (code, status["reason"]) == (422, "Invalid")
    assert field in causes(status)


async def test_undecodable_values_are_400(sim: SimulatedCluster, http: Any) -> None:
    """A body the Go types cannot hold is a 400 (json: cannot unmarshal ...; illegal base64)."""
    async with http.post("/api/v1/namespaces/default/secrets", json={
            "metadata": {"name": "s"}, "data": {"k": "not base64!"}}) as secret:
        secret_code = secret.status
    async with http.post("/api/v1/namespaces/default/configmaps", json={
            "metadata": {"name": "c"}, "data": {"k": 1}}) as config:
        config_code = config.status
    async with http.post("/api/v1/namespaces/default/configmaps", params={"dryRun": "Yes"},
                         json={"metadata": {"name": "d"}}) as dry:
        dry_code = dry.status
    assert (secret_code, config_code, dry_code) == (400, 400, 422)


async def test_immutable_config_maps_and_deployment_selectors_do_not_change(
    official: Api, sim: SimulatedCluster,
) -> None:
    """ValidateConfigMapUpdate ("field is immutable when `immutable` is set") and
    ValidateDeploymentUpdate (apps/v1 spec.selector is immutable)."""
    core, apps = kubernetes.client.CoreV1Api(official), kubernetes.client.AppsV1Api(official)
    await call(core.create_namespaced_config_map, "default", {
        "metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True})
    labels = {"app": "web"}
    await call(apps.create_namespaced_deployment, "default", {
        "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    config_code, config = await refused(core.patch_namespaced_config_map, "c", "default",
                                        {"data": {"a": "2"}})
    web_code, web = await refused(apps.patch_namespaced_deployment, "web", "default", {
        "spec": {"selector": {"matchLabels": {"app": "other"}},
                 "template": {"metadata": {"labels": {"app": "other"}}}}})
    assert (config_code, web_code) == (422, 422)
    assert causes(config) == {"data": "Forbidden: field is immutable when `immutable` is set"}
    assert "field is immutable" in causes(web)["spec.selector"]


# -- defaults --------------------------------------------------------------------------------


async def test_server_side_defaults_of_services_pods_and_jobs(
    official: Api, sim: SimulatedCluster,
) -> None:
    """pkg/apis/core/v1/defaults.go (SetDefaults_Service, SetDefaults_PodSpec) and
    pkg/apis/batch/v1/defaults.go (SetDefaults_Job); the ClusterIP allocator."""
    core, batch = kubernetes.client.CoreV1Api(official), kubernetes.client.BatchV1Api(official)
    service = await call(core.create_namespaced_service, "default", {
        "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    pod = await call(core.create_namespaced_pod, "default", {
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    job = await call(batch.create_namespaced_job, "default", {
        "metadata": {"name": "j"}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
    assert service.spec.cluster_ip.startswith("10.96.")
    assert service.spec.type == "ClusterIP"
    assert service.spec.ports[0].protocol == "TCP"
    assert service.status.load_balancer is not None
    assert (pod.spec.restart_policy, pod.spec.dns_policy, pod.spec.scheduler_name) == (
        "Always", "ClusterFirst", "default-scheduler")
    assert (job.spec.backoff_limit, job.spec.completions, job.spec.parallelism) == (6, 1, 1)


@needs_kubectl
async def test_kubectl_create_of_a_pod_into_a_missing_namespace_names_it(
    kubeconfig: Path, sim: SimulatedCluster,
) -> None:
    """kubectl sees the NamespaceLifecycle 404 as the real server words it."""
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: nowhere}\n")
    run = await kubectl_run(kubeconfig, "create", "-f", "-", stdin=manifest)
    await kubectl(kubeconfig, "create", "namespace", "somewhere")
    made = await kubectl(kubeconfig, "create", "-f", "-",
                         stdin=manifest.replace("nowhere", "somewhere"))
    assert run.code != 0
    assert 'namespaces "nowhere" not found' in run.err
    assert "configmap/c created" in made
