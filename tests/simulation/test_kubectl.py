"""kubectl accepts the simulated cluster: get, get -w, patch and delete."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from clients import KUBECTL, needs_kubectl
from clients import kubectl as _kubectl
from sim_objects import job, node, pod

from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = needs_kubectl


async def test_kubectl_gets_objects_as_a_table_and_as_json(
    sim: SimulatedCluster, kubeconfig: Path
) -> None:
    sim.create(job("backup", "ops"))
    sim.clock.advance(3 * 3600)
    table = await _kubectl(kubeconfig, "get", "jobs", "-A")
    as_json = json.loads(await _kubectl(kubeconfig, "get", "job", "backup", "-n", "ops",
                                        "-o", "json"))
    assert table.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert "backup" in table
    assert "3h" in table
    assert as_json["metadata"]["name"] == "backup"


async def test_kubectl_patch_and_delete_change_the_cluster(
    sim: SimulatedCluster, kubeconfig: Path
) -> None:
    sim.create(job("backup"))
    await _kubectl(kubeconfig, "patch", "job", "backup", "-p",
                   '{"metadata": {"labels": {"patched": "yes"}}}')
    await _kubectl(kubeconfig, "patch", "job", "backup", "--type", "json", "-p",
                   '[{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}]')
    patched = sim.get("batch/v1", "Job", "backup", "default")
    await _kubectl(kubeconfig, "delete", "job", "backup", "--wait=false")
    assert patched["metadata"]["labels"] == {"patched": "yes"}
    assert patched["metadata"]["annotations"] == {"a": "b"}
    assert sim.get("batch/v1", "Job", "backup", "default") is None


async def test_kubectl_get_watch_streams_changes(
    sim: SimulatedCluster, kubeconfig: Path
) -> None:
    sim.create(node("node-1"))
    sim.create(pod("web"))
    assert KUBECTL is not None
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(kubeconfig), "get", "pods", "-w", "-o", "name",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        while not any(w.rt.kind == "Pod" for w in sim.faults.watchers):
            await asyncio.sleep(0.05)
        sim.create(pod("worker"))
        second = await asyncio.wait_for(process.stdout.readline(), 30)
    finally:
        process.terminate()
        await process.wait()
    assert (first.decode().strip(), second.decode().strip()) == ("pod/web", "pod/worker")


async def test_kubectl_scales_and_creates_workloads(
    sim: SimulatedCluster, kubeconfig: Path,
) -> None:
    # The scale subresource (autoscaling/v1 Scale) of apps/v1 Deployments, as
    # k8s.io/kubernetes pkg/registry/apps/deployment/storage ScaleREST serves it.
    created = await _kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx")
    job_created = await _kubectl(kubeconfig, "create", "job", "once", "--image=busybox")
    scaled = await _kubectl(kubeconfig, "scale", "deployment/web", "--replicas=3")
    guarded = await _kubectl(kubeconfig, "scale", "deployment/web", "--replicas=1",
                             "--current-replicas=3")
    deployment = sim.get("apps/v1", "Deployment", "web", "default")
    assert created.strip() == "deployment.apps/web created"
    assert job_created.strip() == "job.batch/once created"
    assert scaled.strip() == guarded.strip() == "deployment.apps/web scaled"
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 1


SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ops}
data: {mode: fast}
"""


async def test_the_readme_session_create_apply_server_side_and_explain(
    sim: SimulatedCluster, kubeconfig: Path, tmp_path: Path,
) -> None:
    # The commands the README shows against `simulate`, with the output it shows.
    sim.ensure_namespaces("ops")
    (tmp_path / "settings.yaml").write_text(SETTINGS)
    manifest = str(tmp_path / "settings.yaml")
    explained = await _kubectl(kubeconfig, "explain", "job.spec.ttlSecondsAfterFinished")
    created = await _kubectl(kubeconfig, "create", "-f", manifest)
    applied = await _kubectl(kubeconfig, "apply", "--server-side", "-f", manifest)
    managers = await _kubectl(kubeconfig, "get", "configmap", "settings", "-n", "ops", "-o",
                              "jsonpath={.metadata.managedFields[*].manager}")
    assert explained.splitlines()[:5] == ["GROUP:      batch", "KIND:       Job",
                                          "VERSION:    v1", "",
                                          "FIELD: ttlSecondsAfterFinished <integer>"]
    assert created.strip() == "configmap/settings created"
    assert applied.strip() == "configmap/settings serverside-applied"
    assert managers.strip() == "kubectl kubectl-create"
