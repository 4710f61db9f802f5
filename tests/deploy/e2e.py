"""The chart on the simulated cluster: its manifests applied with kubectl as `helm` would, and
the daemon configured exactly by the rendered Deployment's environment."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_lifecycle import daemon
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.settings import ENV_PREFIX, Settings, load
from gitops_lifecycle.simulation import SimulatedCluster
from tests.deploy.chart import Rendered

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")

# Helm's install order (pkg/release/util/kind_sorter.go), for the kinds the chart renders.
_ORDER = ["Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
          "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap",
          "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
          "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
          "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
          "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
          "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass",
          "Ingress", "APIService"]
KEEP = "helm.sh/resource-policy"


def install_order(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects in the order Helm creates them (unknown kinds last, as Helm does)."""
    return sorted(objects, key=lambda o: _ORDER.index(o["kind"]) if o["kind"] in _ORDER
                  else len(_ORDER))


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    """Run kubectl against the cluster; its output, or a failed assertion with its error."""
    assert KUBECTL is not None
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(kubeconfig), *args, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else None), 60)
    assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


async def helm_apply(kubeconfig: Path, new: Rendered | None,
                     previous: Rendered | None = None) -> list[tuple[str, str, str, str]]:
    """What `helm install|upgrade|rollback` (new) or `helm uninstall` (None) does to the
    cluster: create or update every object of the new release, then delete the previous
    release's objects it no longer has, except those annotated `helm.sh/resource-policy:
    keep`. The objects deleted."""
    wanted = install_order(new.objects) if new is not None else []
    if wanted:
        await kubectl(kubeconfig, "apply", "-f", "-",
                      stdin=yaml.safe_dump_all(wanted, sort_keys=False))
    kept = {_key(o) for o in wanted}
    gone = [o for o in reversed(install_order(previous.objects if previous else []))
            if _key(o) not in kept
            and (o["metadata"].get("annotations") or {}).get(KEEP) != "keep"]
    for obj in gone:
        api_version, kind, namespace, name = _key(obj)
        group = api_version.rpartition("/")[0]
        kind_ref = f"{kind}.{api_version.split('/')[1]}.{group}" if group else kind
        args = ["delete", kind_ref, name, "--wait=false", "--ignore-not-found"]
        await kubectl(kubeconfig, *args, *(["-n", namespace] if namespace else []))
    return [_key(o) for o in gone]


def environment(rendered: Rendered, sim: SimulatedCluster) -> dict[str, str]:
    """The controller container's environment as the kubelet makes it: literal values, and
    `secretKeyRef` values read from the cluster (optional ones left out when missing)."""
    container = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    namespace = rendered.one("Deployment")["metadata"]["namespace"]
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        secret = sim.get("v1", "Secret", ref["name"], namespace)
        if secret is None or ref["key"] not in (secret.get("data") or {}):
            assert ref.get("optional"), f"{item['name']}: Secret {ref['name']} is missing"
            continue
        env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *, kubeconfig: Path,
                  port: int) -> Settings:
    """The daemon's settings from exactly `env`, plus where the API server is (in a pod,
    in-cluster configuration) and a free port (a pod has the port to itself)."""
    import os

    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load(overrides={"kubernetes": {"kubeconfig": str(kubeconfig)},
                           "server": {"port": port}})


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[asyncio.Task[int]]:
    """The daemon, running until the block ends; its exit code must be 0."""
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(settings, stop, clock=clock), name="daemon")
    try:
        yield task
    finally:
        stop.set()
        code = await asyncio.wait_for(task, 30)
    assert code == 0


# --- the end-to-end scenario: the same objects and assertions on kind and on the simulation ---
E2E_NAMESPACE = "e2e"
E2E_VALUES: dict[str, Any] = {"cleanup": {"controller": {"policies": {
    "completedJobs": {"ttl": "30s"}, "failedJobs": {"ttl": "30s"},
    "stuckPods": {"threshold": "30s", "mode": "report"}}}}}
HOLD = "gitops.io/e2e-hold"


def _job(name: str, command: str, finished: str) -> dict[str, Any]:
    condition = "Complete" if command == "true" else "Failed"
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": E2E_NAMESPACE},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36",
                                "command": [command]}]}}},
            "status": {"startTime": finished, "completionTime": finished,
                       "succeeded" if condition == "Complete" else "failed": 1,
                       "conditions": [{"type": condition, "status": "True",
                                       "lastTransitionTime": finished}]}}


def e2e_objects(finished: str) -> list[dict[str, Any]]:
    """A finished and a failed Job, a pod that will stay Terminating (a finalizer holds it),
    a long-running Job and a ProxyConfig. `status` is what the cluster's controllers report
    (kind's do it themselves; the simulation is given it)."""
    running = _job("still-running", "sleep", finished)
    running["spec"]["template"]["spec"]["containers"][0]["command"] = ["sleep", "3600"]
    running["status"] = {"startTime": finished, "active": 1}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": E2E_NAMESPACE}},
        _job("finished", "true", finished),
        _job("broken", "false", finished),
        running,
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "held", "namespace": E2E_NAMESPACE, "finalizers": [HOLD]},
         "spec": {"terminationGracePeriodSeconds": 0,
                  "containers": [{"name": "main", "image": "busybox:1.36",
                                  "command": ["sleep", "3600"]}]}},
        {"apiVersion": "gitops.io/v1", "kind": "ProxyConfig",
         "metadata": {"name": "grafana", "namespace": E2E_NAMESPACE},
         "spec": {"serviceName": "grafana", "externalHost": "https://grafana.example.com",
                  "authentikConfig": {"providerName": "grafana-proxy"}}},
    ]


async def e2e_outcome(kubeconfig: Path) -> dict[str, Any]:
    """What the scenario left, read with kubectl."""
    jobs = yaml.safe_load(await kubectl(kubeconfig, "get", "jobs", "-n", E2E_NAMESPACE,
                                        "-o", "yaml"))
    pods = yaml.safe_load(await kubectl(kubeconfig, "get", "pods", "-n", E2E_NAMESPACE,
                                        "-o", "yaml"))
    proxyconfigs = yaml.safe_load(await kubectl(kubeconfig, "get", "proxyconfigs", "-n",
                                                E2E_NAMESPACE, "-o", "yaml"))
    return {"jobs": sorted(j["metadata"]["name"] for j in jobs["items"]),
            "terminating": sorted(p["metadata"]["name"] for p in pods["items"]
                                  if p["metadata"].get("deletionTimestamp")),
            "proxyconfigs": sorted(p["metadata"]["name"] for p in proxyconfigs["items"])}


E2E_EXPECTED = {"jobs": ["still-running"], "terminating": ["held"], "proxyconfigs": ["grafana"]}
"""Both finished Jobs deleted after their TTL, the running one kept; the held pod reported,
not forced; the ProxyConfig untouched."""


def sample(scrape: str, series: str) -> float:
    """The value of one series in a Prometheus text scrape (0 when absent)."""
    for line in scrape.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return 0.0


def e2e_metrics_ok(before: str, after: str) -> bool:
    """The daemon's metrics agree: one Job of each kind cleaned since `before`, one pod stuck.
    (Counters are compared, not read: a test process may have run other daemons before.)"""
    cleaned = [sample(after, f'gitops_cleanup_jobs_cleaned_total{{type="{kind}"}}')
               - sample(before, f'gitops_cleanup_jobs_cleaned_total{{type="{kind}"}}')
               for kind in ("completed", "failed")]
    return cleaned == [1.0, 1.0] and sample(after, "gitops_cleanup_stuck_pods") == 1.0
