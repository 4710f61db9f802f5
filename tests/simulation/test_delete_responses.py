"""What a DELETE answers, as k8s.io/apiserver `registry/generic/registry/store.go` does.

- `Store.finalizeDelete`: a store without `ReturnDeletedObject` (all but pods, services,
  PVCs, PVs and namespaces) answers `Status{status: Success, details{name, group, kind, uid}}`
  once the object is gone, `kind` being the resource's plural;
- `Store.Delete`: an object whose deletion waits (finalizers, a pod's grace period) is
  answered as it now is, with `deletionTimestamp`;
- `dryRun=All` answers the same without changing anything (`Storage.Delete` with dry run,
  `updateForGracefulDeletionAndFinalizers` with dry run);
- `Store.DeleteCollection` answers the list it deleted, as it was listed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kubernetes
from sim_objects import node, pod

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation import SimulatedCluster

Api = kubernetes.client.ApiClient


def _configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", **meta}, "data": {"a": "b"}}


def _raw(call: Any, *args: Any, **kwargs: Any) -> Any:
    return json.loads(call(*args, _preload_content=False, **kwargs).data)


async def test_a_deleted_configmap_is_answered_with_a_success_status(
    official: Api, sim: SimulatedCluster,
) -> None:
    uid = sim.create(_configmap("gone"))["metadata"]["uid"]
    core = kubernetes.client.CoreV1Api(official)
    status = await asyncio.to_thread(_raw, core.delete_namespaced_config_map, "gone", "default")
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                      "status": "Success",
                      "details": {"name": "gone", "kind": "configmaps", "uid": uid}}
    assert sim.get("v1", "ConfigMap", "gone", "default") is None


async def test_a_deletion_held_by_a_finalizer_answers_the_object(
    official: Api, sim: SimulatedCluster,
) -> None:
    sim.create(_configmap("held", finalizers=["example.com/hold"]))
    core = kubernetes.client.CoreV1Api(official)
    answer = await asyncio.to_thread(_raw, core.delete_namespaced_config_map, "held", "default")
    assert answer["kind"] == "ConfigMap"
    assert answer["metadata"]["deletionTimestamp"] == format_time(sim.clock.now())


async def test_a_dry_run_delete_answers_what_would_happen_and_changes_nothing(
    official: Api, sim: SimulatedCluster,
) -> None:
    sim.create(_configmap("kept"))
    sim.create(node("node-1"))
    sim.create(pod("web"))
    before = sim.resource_version
    core = kubernetes.client.CoreV1Api(official)
    status = await asyncio.to_thread(_raw, core.delete_namespaced_config_map, "kept", "default",
                                     dry_run="All")
    terminating = await asyncio.to_thread(_raw, core.delete_namespaced_pod, "web", "default",
                                          dry_run="All")
    stored = sim.get("v1", "Pod", "web", "default")
    assert status["status"] == "Success"
    assert status["details"]["name"] == "kept"
    assert terminating["metadata"]["deletionTimestamp"] == format_time(sim.clock.now() + 30)
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    assert sim.resource_version == before
    assert sim.get("v1", "ConfigMap", "kept", "default") is not None
    assert stored is not None
    assert "deletionTimestamp" not in stored["metadata"]


async def test_delete_collection_answers_the_list_it_deleted(
    official: Api, sim: SimulatedCluster,
) -> None:
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        held = {"finalizers": ["example.com/hold"]} if name == "a2" else {}
        sim.create(_configmap(name, labels={"app": app}, **held))
    core = kubernetes.client.CoreV1Api(official)
    answer = await asyncio.to_thread(_raw, core.delete_collection_namespaced_config_map,
                                     "default", label_selector="app=a")
    assert answer["kind"] == "ConfigMapList"
    assert [item["metadata"]["name"] for item in answer["items"]] == ["a1", "a2"]
    assert all("deletionTimestamp" not in item["metadata"] for item in answer["items"])
    left = {cm["metadata"]["name"]: cm for cm in sim.list("v1", "ConfigMap", "default")}
    assert sorted(left) == ["a2", "b1"]  # a2 waits for its finalizer
    assert "deletionTimestamp" in left["a2"]["metadata"]
