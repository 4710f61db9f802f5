"""Server-side apply, through kubectl, the official `kubernetes` client and plain HTTP.

Rules followed: https://kubernetes.io/docs/reference/using-api/server-side-apply/ ("Field
management", "Conflicts", "Merge strategy", "Using server-side apply in a controller"),
k8s.io/apiserver `endpoints/handlers/patch.go` (`applyPatcher`) and `rest/validation.go`
(`ValidatePatchOptions`), and sigs.k8s.io/structured-merge-diff `merge/update.go`
(`Updater.Apply`, `prune`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes
import yaml
from clients import kubectl, kubectl_run, needs_kubectl

from gitops_lifecycle.simulation import SimulatedCluster

Api = kubernetes.client.ApiClient
APPLY = {"Content-Type": "application/apply-patch+yaml"}
CM = "/api/v1/namespaces/default/configmaps"

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {team: ops, tier: backend}
data:
  mode: fast
  level: "3"
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, finalizers: [example.com/keep]}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        args: [--one, --two]
        ports: [{containerPort: 80}]
"""


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


async def test_apply_without_field_manager_is_invalid_before_any_lookup(
    http: aiohttp.ClientSession,
) -> None:
    # ValidatePatchOptions: fieldManager "is required for apply patch" (422 Invalid), checked
    # before the object is looked up; `force` is forbidden on other patch types.
    missing = await http.patch(f"{CM}/nothing", data=CONFIGMAP, headers=APPLY)
    forced = await http.patch(f"{CM}/nothing?force=true", data="{}",
                              headers={"Content-Type": "application/merge-patch+json"})
    body = await missing.json()
    assert (missing.status, body["reason"]) == (422, "Invalid")
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                               "Required value: is required for apply patch")
    assert body["details"]["causes"][0]["field"] == "fieldManager"
    assert forced.status == 422
    assert "may not be specified for non-apply patch" in (await forced.json())["message"]


async def test_apply_creates_then_updates_and_records_its_manager(
    http: aiohttp.ClientSession, sim: SimulatedCluster,
) -> None:
    created = await http.patch(f"{CM}/settings?fieldManager=deployer", data=CONFIGMAP,
                               headers=APPLY)  # YAML
    sim.clock.advance(60)
    changed = await http.patch(f"{CM}/settings?fieldManager=deployer", headers=APPLY,
                               data=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "settings"},
                                                "data": {"mode": "slow"}}))  # JSON is YAML
    first, second = await created.json(), await changed.json()
    assert (created.status, changed.status) == (201, 200)
    entry = _entries(first)["deployer", "Apply"]
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {"f:level": {}, "f:mode": {}},
                                 "f:metadata": {"f:labels": {"f:team": {}, "f:tier": {}}}}
    assert second["data"] == {"mode": "slow"}  # what it no longer applies is gone
    assert "labels" not in second["metadata"]
    later = _entries(second)["deployer", "Apply"]
    assert later["fieldsV1"] == {"f:data": {"f:mode": {}}}
    assert later["time"] > entry["time"]


async def test_writes_that_are_not_applies_record_update_managers(
    official: Api, kubeconfig: Path,
) -> None:
    # "Field management": create, update and non-apply patches record an Update entry for
    # their manager (kubectl names itself kubectl-create, kubectl-patch, ...).
    await kubectl(kubeconfig, "create", "-f", "-", stdin=CONFIGMAP)
    await kubectl(kubeconfig, "patch", "configmap", "settings", "--type", "merge",
                  "-p", '{"data": {"mode": "careful"}}')
    core = kubernetes.client.CoreV1Api(official)
    read = await asyncio.to_thread(core.read_namespaced_config_map, "settings", "default")
    entries = {(e.manager, e.operation): e for e in read.metadata.managed_fields}
    assert set(entries) == {("kubectl-create", "Update"), ("kubectl-patch", "Update")}
    assert entries["kubectl-patch", "Update"].fields_v1 == {"f:data": {"f:mode": {}}}
    assert entries["kubectl-create", "Update"].fields_v1 == {
        "f:data": {".": {}, "f:level": {}},
        "f:metadata": {"f:labels": {".": {}, "f:team": {}, "f:tier": {}}}}


@needs_kubectl
async def test_kubectl_apply_server_side_conflicts_then_forces(
    kubeconfig: Path, sim: SimulatedCluster,
) -> None:
    # "Conflicts": an apply that would change a field another manager set fails with a 409
    # naming that manager and field, unless forced, which takes the field over.
    await kubectl(kubeconfig, "apply", "--server-side", "-f", "-", stdin=CONFIGMAP)
    await kubectl(kubeconfig, "patch", "configmap", "settings", "--type", "merge",
                  "-p", '{"data": {"mode": "careful"}}')
    refused = await kubectl_run(kubeconfig, "apply", "--server-side", "-f", "-",
                                stdin=CONFIGMAP)
    kept = sim.get("v1", "ConfigMap", "settings", "default")
    forced = await kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f",
                           "-", stdin=CONFIGMAP)
    after = sim.get("v1", "ConfigMap", "settings", "default")
    assert refused.code != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.mode'
            in refused.err)
    assert kept is not None
    assert kept["data"]["mode"] == "careful"
    assert forced.strip() == "configmap/settings serverside-applied"
    assert after is not None
    assert after["data"]["mode"] == "fast"
    managers = {e["manager"] for e in after["metadata"]["managedFields"]}
    assert managers == {"kubectl"}  # kubectl-patch owned only what was taken


@needs_kubectl
async def test_kubectl_apply_server_side_twice_removes_a_dropped_field(
    kubeconfig: Path, sim: SimulatedCluster,
) -> None:
    # "Merge strategy": a field an applier stops applying is removed, unless another manager
    # owns it too.
    first = await kubectl(kubeconfig, "apply", "--server-side", "-f", "-", stdin=CONFIGMAP)
    await kubectl(kubeconfig, "apply", "--server-side", "--field-manager", "other", "-f", "-",
                  stdin=CONFIGMAP.replace("  mode: fast\n", ""))
    again = await kubectl(kubeconfig, "apply", "--server-side", "-f", "-",
                          stdin=CONFIGMAP.replace('  level: "3"\n', "").replace(
                              ", tier: backend", ""))
    cm = sim.get("v1", "ConfigMap", "settings", "default")
    assert first.strip() == "configmap/settings serverside-applied"
    assert again.strip() == "configmap/settings serverside-applied"
    assert cm is not None
    assert cm["data"] == {"mode": "fast", "level": "3"}  # level: "other" applies it too
    assert cm["metadata"]["labels"] == {"team": "ops", "tier": "backend"}
    await kubectl(kubeconfig, "apply", "--server-side", "--field-manager", "other", "-f", "-",
                  stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    cm = sim.get("v1", "ConfigMap", "settings", "default")
    assert cm is not None
    assert cm["data"] == {"mode": "fast"}
    assert cm["metadata"]["labels"] == {"team": "ops"}


async def test_lists_merge_as_the_schema_says(official: Api, sim: SimulatedCluster) -> None:
    # "Merge strategy": `x-kubernetes-list-type: map` lists merge by their keys (containers
    # by name, ports by containerPort and protocol), sets by value (finalizers), atomic
    # lists are replaced whole (args) and so conflict as a whole.
    dynamic = await asyncio.to_thread(kubernetes.dynamic.DynamicClient, official)
    deployments = await asyncio.to_thread(dynamic.resources.get, api_version="apps/v1",
                                          kind="Deployment")

    def apply(manager: str, body: dict[str, Any], *, force: bool = False) -> Any:
        return dynamic.server_side_apply(deployments, body, namespace="default",
                                         field_manager=manager, force_conflicts=force)

    def web(**fields: Any) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "finalizers": ["example.com/other"]},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "proxy", "image": "envoy:1"}, {"name": "web", **fields}]}}}}

    await asyncio.to_thread(apply, "team-a", yaml.safe_load(DEPLOYMENT))
    await asyncio.to_thread(apply, "team-b", web(ports=[{"containerPort": 9090}]))
    obj = sim.get("apps/v1", "Deployment", "web", "default")
    try:
        await asyncio.to_thread(apply, "team-b", web(args=["--three"]))
    except kubernetes.dynamic.exceptions.ConflictError as exc:
        refused = exc
    await asyncio.to_thread(apply, "team-b", web(args=["--three"]), force=True)
    forced = sim.get("apps/v1", "Deployment", "web", "default")
    assert obj is not None
    assert forced is not None
    containers = {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}
    assert sorted(containers) == ["proxy", "web"]
    assert containers["web"]["image"] == "nginx:1.27"
    assert [p["containerPort"] for p in containers["web"]["ports"]] == [80, 9090]
    assert obj["metadata"]["finalizers"] == ["example.com/keep", "example.com/other"]
    fields = _entries(obj)["team-a", "Apply"]["fieldsV1"]
    mine = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert set(mine) == {".", "f:name", "f:image", "f:args", "f:ports"}
    assert set(mine["f:ports"]) == {'k:{"containerPort":80,"protocol":"TCP"}'}
    assert fields["f:metadata"]["f:finalizers"] == {'v:"example.com/keep"': {}}
    assert refused.status == 409
    cause = json.loads(refused.body)["details"]["causes"][0]
    assert cause == {"reason": "FieldManagerConflict", "message": 'conflict with "team-a"',
                     "field": '.spec.template.spec.containers[name="web"].args'}
    assert forced["spec"]["template"]["spec"]["containers"][1]["args"] == ["--three"]


async def test_a_dry_run_apply_answers_the_result_and_stores_nothing(
    http: aiohttp.ClientSession, sim: SimulatedCluster,
) -> None:
    # "Server-side apply" with `dryRun=All` (API concepts, "Dry-run"): the same answer,
    # nothing written.
    url = f"{CM}/settings?fieldManager=deployer&dryRun=All"
    would_create = await http.patch(url, data=CONFIGMAP, headers=APPLY)
    nothing = sim.get("v1", "ConfigMap", "settings", "default")
    await http.patch(f"{CM}/settings?fieldManager=deployer", data=CONFIGMAP, headers=APPLY)
    before = sim.resource_version
    would_change = await http.patch(url, headers=APPLY,
                                    data=CONFIGMAP.replace("mode: fast", "mode: slow"))
    stored = sim.get("v1", "ConfigMap", "settings", "default")
    assert would_create.status == 201
    assert (await would_create.json())["data"] == {"mode": "fast", "level": "3"}
    assert nothing is None
    assert would_change.status == 200
    assert (await would_change.json())["data"]["mode"] == "slow"
    assert sim.resource_version == before
    assert stored is not None
    assert stored["data"]["mode"] == "fast"


async def test_an_apply_must_name_the_kind_and_leave_managed_fields_alone(
    http: aiohttp.ClientSession,
) -> None:
    # patch.go `applyPatcher` and `structuredMergeManager.Apply`: the body is YAML; the patch
    # version must be the resource's; `metadata.managedFields must be nil`.
    url = f"{CM}/settings?fieldManager=deployer"
    not_yaml = await http.patch(url, data="data: [unclosed", headers=APPLY)
    wrong_version = await http.patch(url, data=CONFIGMAP.replace("v1", "v2"), headers=APPLY)
    managed = await http.patch(url, headers=APPLY, data=CONFIGMAP.replace(
        "  name: settings\n", "  name: settings\n  managedFields: [{manager: x}]\n"))
    assert not_yaml.status == 400
    assert (await not_yaml.json())["message"].startswith("error decoding YAML")
    assert wrong_version.status == 400
    assert "Incorrect version specified in apply patch" in (await wrong_version.json())["message"]
    assert managed.status == 400
    assert (await managed.json())["message"] == "metadata.managedFields must be nil"
