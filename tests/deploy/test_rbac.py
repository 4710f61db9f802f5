"""RBAC by construction: the chart's roles grant exactly what the daemon and `wait` were seen
to use against the simulated cluster during the whole test run, no more and no less."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitops_lifecycle import cli, demo
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.kube import resources
from gitops_lifecycle.retry import commands
from gitops_lifecycle.retry.errors import NotReady, NotRetryable
from gitops_lifecycle.settings import load
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from gitops_lifecycle.simulation.narration import Narrator
from tests import audit
from tests.deploy.chart import NAMESPACE, RELEASE, Rendered, render
from tests.deploy.e2e import (
    environment,
    helm_apply,
    kubectl,
    needs_kubectl,
    running,
    settings_from,
)
from tests.retry.services import free_port

Grant = tuple[str, str, str]  # verb, API group, resource
TWO_REPLICAS = {"cleanup": {"controller": {"replicas": 2}}}


def _exercise_values(authentik: str) -> dict[str, Any]:
    """Two replicas, Authentik at `authentik`, orphans due within the exercise, and Events
    swept often enough that a second sweep finds more."""
    return {"cleanup": {"controller": {"replicas": 2, "policies": {
        "orphanedProviders": {"maxAge": "10m"}, "events": {"interval": "10m"}}}},
        "authentik": {"url": authentik}, "serviceDiscovery": {"resyncInterval": "5m"}}


# What the demo's scenario lacks for the daemon to make every request it can make (and an old
# Event added in `ops` once the first sweep there is recorded: the next sweep repeats the
# daemon's Event on the namespace, which PATCHes that Event's series):
# - a pod stuck Terminating on the NotReady node with a ReadWriteOnce claim: its claim is read
#   before the pod may be forced;
# - a Service labelled for Authentik: its ProxyConfig is created, and deleted once the label
#   goes.
EXTRA = """
objects:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: data-db-0, namespace: shop}
    age: 20d
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  - apiVersion: v1
    kind: Pod
    metadata:
      name: db-0
      namespace: shop
      deletionTimestamp: now-25m
      deletionGracePeriodSeconds: 30
    age: 20d
    spec:
      nodeName: node-b
      containers: [{name: db, image: postgres}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data-db-0}}]
    status: {phase: Running}
  - apiVersion: v1
    kind: Service
    metadata:
      name: wiki
      namespace: shop
      labels: {authentik.io/proxy: enabled}
      annotations: {authentik.io/external-host: https://wiki.example.com}
    spec: {ports: [{port: 80}], selector: {app: wiki}}
"""
PROXYCONFIGS = Path(__file__).parents[2] / "deploy/examples/proxyconfigs/valid.yaml"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    user_agent: str = "gitops-lifecycle/0.1.0 (run)"


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/pods", {}, ("list", "", "pods", False)),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "pods", False)),
    ("GET", "/api/v1/watch/namespaces/ops/pods", {}, ("watch", "", "pods", True)),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "namespaces", False)),
    ("GET", "/api/v1/namespaces/ops", {}, ("get", "", "namespaces", False)),
    ("GET", "/api/v1/namespaces/ops/events", {}, ("list", "", "events", True)),
    ("PATCH", "/api/v1/namespaces/ops/pods/web-1/status", {}, ("patch", "", "pods/status", True)),
    ("DELETE", "/apis/batch/v1/namespaces/ops/jobs/backup", {}, ("delete", "batch", "jobs", True)),
    ("DELETE", "/apis/batch/v1/namespaces/ops/jobs", {}, ("deletecollection", "batch", "jobs",
                                                           True)),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/gitops-system/leases/x", {},
     ("update", "coordination.k8s.io", "leases", True)),
    ("POST", "/apis/gitops.io/v1/namespaces/apps/proxyconfigs", {},
     ("create", "gitops.io", "proxyconfigs", True)),
    ("GET", "/api/v1/nodes/node-a", {}, ("get", "", "nodes", False)),
])
def test_a_request_becomes_the_verb_group_and_resource_rbac_authorises(
        method: str, path: str, query: dict[str, str], expected: tuple[Any, ...]) -> None:
    found = audit.access(Request(method, path, query))
    assert found is not None
    assert (found.verb, found.group, found.resource, found.namespaced) == expected
    assert found.command == "run"


@pytest.mark.parametrize("agent", ["kubectl/v1.32.4 (linux/amd64)", "gitops-lifecycle/0.1.0",
                                   "Python/3.11 aiohttp/3.9", "gitops-lifecycle-waiter/1"])
def test_other_clients_and_discovery_are_not_recorded(agent: str) -> None:
    assert audit.access(Request("GET", "/api/v1/pods", {}, agent)) is None
    assert audit.access(Request("GET", "/apis/batch/v1", {})) is None
    assert audit.access(Request("GET", "/version", {})) is None


async def _wait_once(kubeconfig: Path, *argv: str) -> None:
    """One attempt of `gitops-lifecycle wait …` (the object need not exist)."""
    args = cli.parser().parse_args(["wait", *argv, "--kubeconfig", str(kubeconfig)])
    settings = load(overrides={"kubernetes": {"kubeconfig": str(kubeconfig)}})
    check = commands._module(args.check).build(args, settings)
    with contextlib.suppress(NotReady, NotRetryable):
        await check.attempt(5)


# Kinds whose objects `wait k8s KIND -l SELECTOR` (or --all) is expected to wait for.
SELECTED = ("pods", "jobs", "deployments", "statefulsets")


def _wait_targets() -> list[list[str]]:
    """Every kind the daemon knows and DaemonSets by name, workloads by selector, the secret and
    externalsecret checks (`wait k8s` takes any kind the server serves; the chart's role for
    it covers these)."""
    kinds = sorted({r.kind.lower() for r in vars(resources).values()
                    if isinstance(r, resources.Resource)} | {"daemonset"})
    return [["k8s", f"{kind}/x", "-n", "apps"] for kind in kinds] + [
        ["k8s", kind, "-l", "app=x", "-n", "apps"] for kind in SELECTED] + [
        ["secret", "apps/x"], ["externalsecret", "apps/x"]]


async def test_our_commands_name_themselves_in_the_user_agent(
        sim: SimulatedCluster, kubeconfig: Path) -> None:
    await _wait_once(kubeconfig, "k8s", "job/x", "-n", "apps")
    agents = {r.user_agent for r in sim.requests}
    assert agents == {"gitops-lifecycle-wait/0.1.0"}


async def _exercise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two replicas of the daemon as the chart configures them (one leads, the other stands
    by), over the demo's scenario, and `wait` on everything it can wait for: what the rest
    of the run also does, so that this test can also run alone."""
    clock = SimClock(speed=600)
    sim = SimulatedCluster(clock=clock)
    authentik = SimulatedAuthentik(clock=clock)
    await sim.start()
    await authentik.start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        sim.load_scenario(demo.scenario_text())
        rendered = render(_exercise_values(authentik.url))
        # A provider and application made for a ProxyConfig that is gone: the orphan sweep
        # records it in its state ConfigMap, and deletes it once it is old enough.
        provider = authentik.create_provider("old-app", "https://old-app.example.com")
        authentik.create_application("old-app", provider=provider["pk"],
                                     meta_publisher="gitops-lifecycle:default:apps/old-app")
        await helm_apply(kubeconfig, rendered)
        # The token Secret the Deployment reads, and ProxyConfigs for service discovery.
        await kubectl(kubeconfig, "create", "secret", "generic", f"{RELEASE}-authentik",
                      "-n", NAMESPACE, f"--from-literal=token={authentik.token}")
        for namespace in ("monitoring", "home-automation"):
            await kubectl(kubeconfig, "create", "namespace", namespace)
        await kubectl(kubeconfig, "apply", "-f", str(PROXYCONFIGS))
        replicas = [settings_from(environment(rendered, sim), monkeypatch,
                                  kubeconfig=kubeconfig, port=free_port()) for _ in range(2)]
        sim.load_scenario(EXTRA)
        narrator = Narrator(cluster=sim, clock=clock, out=io.StringIO())
        narrator.start()
        async with running(replicas[0], clock), running(replicas[1], clock):
            await _until(lambda: sim.get(*PROXYCONFIG, "wiki", "shop") is not None)
            await kubectl(kubeconfig, "label", "service", "wiki", "-n", "shop",
                          "authentik.io/proxy-")
            await _until(lambda: sim.get(*PROXYCONFIG, "wiki", "shop") is None)
            await _until(lambda: _swept_events(sim, "ops") is not None)
            sim.load_scenario(OLD_EVENT)
            await _until(lambda: (_swept_events(sim, "ops") or {}).get("series") is not None)
            await asyncio.sleep(6)
            await _until(lambda: narrator.deleted["Job"] > 0, timeout=60)
        narrator.stop()
        assert narrator.deleted["Job"] > 0
        for target in _wait_targets():
            await _wait_once(kubeconfig, *target)
    finally:
        await authentik.stop()
        await sim.stop()


PROXYCONFIG = ("gitops.io/v1", "ProxyConfig")
OLD_EVENT = """
objects:
  - apiVersion: v1
    kind: Event
    metadata: {name: nightly-backup.17b1, namespace: ops}
    involvedObject: {apiVersion: batch/v1, kind: Job, namespace: ops, name: nightly-backup}
    reason: Completed
    message: Job completed
    type: Normal
    count: 1
    firstTimestamp: now-2d
    lastTimestamp: now-2d
    source: {component: job-controller}
"""


def _swept_events(sim: SimulatedCluster, namespace: str) -> dict[str, Any] | None:
    """The daemon's Event about old Events deleted in `namespace` (Events about a namespace
    go in `default`, where client-go puts them)."""
    regarding = {"apiVersion": "v1", "kind": "Namespace", "name": namespace}
    found = [e for e in sim.list("events.k8s.io/v1", "Event", "default")
             if e["regarding"] == regarding]
    return found[0] if found else None


async def _until(condition: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def _grants(rules: list[dict[str, Any]]) -> set[Grant]:
    return {(verb, group, resource) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def _roles(rendered: Rendered) -> tuple[set[Grant], set[Grant], set[Grant]]:
    """The daemon's ClusterRole, its Role for the Lease, and the ClusterRole for `wait`."""
    cluster = {r["metadata"]["name"]: _grants(r["rules"]) for r in rendered.of_kind("ClusterRole")}
    (role,) = rendered.of_kind("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    return cluster[RELEASE], _grants(role["rules"]), cluster[f"{RELEASE}-wait"]


def _bound_to_the_daemon(rendered: Rendered) -> None:
    subject = {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    for kind, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        (binding,) = rendered.of_kind(kind)
        assert binding["subjects"] == [subject]
        assert binding["roleRef"]["kind"] == role
    assert rendered.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == \
        RELEASE


@needs_kubectl
@pytest.mark.after_all
async def test_the_chart_grants_exactly_what_the_daemon_and_wait_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await _exercise(tmp_path, monkeypatch)
    used = set(audit.RECORDED)
    rendered = render(TWO_REPLICAS)
    daemon_cluster, daemon_role, wait_cluster = _roles(rendered)
    _bound_to_the_daemon(rendered)

    daemon = {a for a in used if a.command == "run"}
    # A namespaced use of what the Role names is the Role's; everything else the ClusterRole's.
    role_resources = {(g, r) for _, g, r in daemon_role}
    in_role = {(a.verb, a.group, a.resource) for a in daemon
               if a.namespaced and (a.group, a.resource) in role_resources}
    in_cluster = {(a.verb, a.group, a.resource) for a in daemon
                  if not (a.namespaced and (a.group, a.resource) in role_resources)}
    waited = {(a.verb, a.group, a.resource) for a in used if a.command == "wait"}
    assert {a.command for a in used} == {"run", "wait"}

    assert sorted(in_cluster - daemon_cluster) == [], "used but not granted (ClusterRole)"
    assert sorted(daemon_cluster - in_cluster) == [], "granted but never used (ClusterRole)"
    assert sorted(in_role - daemon_role) == [], "used but not granted (Role)"
    assert sorted(daemon_role - in_role) == [], "granted but never used (Role)"
    assert sorted(waited - wait_cluster) == [], "used by wait but not granted"
    assert sorted(wait_cluster - waited) == [], "granted to wait but never used"
