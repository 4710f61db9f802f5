"""`wait k8s` as kubectl users expect it: any kind, label selectors, the context's namespace."""

from __future__ import annotations

import asyncio
from itertools import count
from pathlib import Path

import pytest
import yaml

from gitops_lifecycle.retry import engine
from gitops_lifecycle.settings import RetryPolicy
from gitops_lifecycle.simulation import SimulatedCluster
from tests.retry.test_wait_kubernetes import POLICY, job, waiting

_names = count()
SHORT = POLICY.model_copy(update={"timeout": 3})


@pytest.fixture
def namespace() -> str:
    return f"kinds-{next(_names)}"


def kubeconfig_in(sim: SimulatedCluster, path: Path, namespace: str, **user: str) -> Path:
    """A kubeconfig whose context sets `namespace` (and the user's fields given)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "team",
        "clusters": [{"name": "sim", "cluster": {"server": sim.url}}],
        "users": [{"name": "me", "user": dict(user)}],
        "contexts": [{"name": "team", "context": {"cluster": "sim", "user": "me",
                                                  "namespace": namespace}}],
    }))
    return path


def pod(namespace: str, name: str, *, ready: str, app: str = "db") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}}


@pytest.mark.looptime
async def test_the_namespace_defaults_to_the_kubeconfig_contexts(sim, tmp_path, namespace):
    config = kubeconfig_in(sim, tmp_path / "config", namespace)
    sim.create(job(namespace, ("Complete", "True")))
    result = await waiting(config, "k8s", "job/migrate", "--for", "condition=Complete",
                           policy=SHORT)
    assert result.outcome == engine.READY, result.last_error


@pytest.mark.looptime
async def test_a_label_selector_waits_until_every_matching_pod_is_ready(sim, kubeconfig,
                                                                         namespace):
    sim.create(pod(namespace, "db-0", ready="True"))
    late = sim.create(pod(namespace, "db-1", ready="False"))
    sim.create(pod(namespace, "cache-0", ready="False", app="cache"))
    task = waiting(kubeconfig, "k8s", "pods", "-l", "app=db", "-n", namespace,
                   "--for", "condition=Ready")
    await asyncio.sleep(3)
    assert not task.done()
    late["status"]["conditions"][0]["status"] = "True"
    sim.update_status(late)
    assert (await task).outcome == engine.READY


@pytest.mark.looptime
async def test_any_is_satisfied_by_one_pod_and_all_needs_every_one(sim, kubeconfig, namespace):
    sim.create(pod(namespace, "db-0", ready="True"))
    sim.create(pod(namespace, "db-1", ready="False"))
    one = await waiting(kubeconfig, "k8s", "pod", "-l", "app=db", "--any", "-n", namespace)
    every = await waiting(kubeconfig, "k8s", "po", "--all", "-n", namespace, policy=SHORT)
    assert one.outcome == engine.READY
    assert every.outcome == engine.TIMEOUT
    assert "1 of 2 not ready: db-1" in str(every.last_error)


@pytest.mark.looptime
async def test_a_selector_matching_nothing_yet_is_waited_for(sim, kubeconfig, namespace):
    result = await waiting(kubeconfig, "k8s", "pods", "-l", "app=db", "-n", namespace,
                           policy=SHORT)
    assert result.outcome == engine.TIMEOUT
    assert "no pods matches" in str(result.last_error)


def proxy_config(namespace: str, ready: str) -> dict[str, object]:
    return {"apiVersion": "gitops.io/v1", "kind": "ProxyConfig",
            "metadata": {"name": "grafana", "namespace": namespace, "generation": 1},
            "spec": {"serviceName": "grafana", "externalHost": "https://grafana.example.com",
                     "authentikConfig": {"providerName": "grafana"}},
            "status": {"observedGeneration": 1,
                       "conditions": [{"type": "Ready", "status": ready}]}}


@pytest.mark.looptime
@pytest.mark.parametrize("kind", ["proxyconfig", "proxyconfigs.gitops.io", "ProxyConfig",
                                  "proxyconfigs.v1.gitops.io"])
async def test_a_custom_resource_kind_is_found_through_discovery(sim, kubeconfig, namespace,
                                                                 kind):
    sim.create(proxy_config(namespace, "True"))
    result = await waiting(kubeconfig, "k8s", f"{kind}/grafana", "-n", namespace)
    assert result.outcome == engine.READY, result.last_error


@pytest.mark.looptime
async def test_a_kind_the_server_does_not_serve_is_reported_by_name(sim, kubeconfig, namespace):
    result = await waiting(kubeconfig, "k8s", "certificate.cert-manager.io/tls", "-n", namespace,
                           policy=SHORT)
    assert result.outcome == engine.TIMEOUT
    assert "no resource type 'certificate.cert-manager.io'" in str(result.last_error)


@pytest.mark.looptime
@pytest.mark.parametrize("style", [("db", "-n"), ("{ns}/db",)])
async def test_a_secret_is_named_either_namespace_slash_name_or_with_dash_n(
        sim, kubeconfig, namespace, style):
    sim.create({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": namespace}, "data": {"url": "eA=="}})
    argv = [part.format(ns=namespace) for part in style]
    if argv[-1] == "-n":
        argv.append(namespace)
    result = await waiting(kubeconfig, "secret", *argv, "--keys", "url", policy=SHORT)
    assert result.outcome == engine.READY, result.last_error


@pytest.mark.looptime
async def test_an_external_secret_in_the_contexts_namespace_needs_no_namespace(
        sim, tmp_path, namespace):
    from tests.retry.test_wait_kubernetes import external_secret

    config = kubeconfig_in(sim, tmp_path / "config", namespace)
    sim.create(external_secret(namespace))
    result = await waiting(config, "externalsecret", "creds", policy=SHORT)
    assert result.outcome == engine.READY, result.last_error


@pytest.mark.looptime
async def test_a_token_file_ending_in_a_newline_is_trimmed(sim, tmp_path, namespace):
    token = tmp_path / "token"
    token.write_text("abc.def\n")
    config = kubeconfig_in(sim, tmp_path / "config", namespace, tokenFile=str(token))
    sim.create(job(namespace, ("Complete", "True")))
    result = await waiting(config, "k8s", "job/migrate", "-n", namespace,
                           "--for", "condition=Complete", policy=SHORT)
    assert result.outcome == engine.READY, result.last_error


@pytest.mark.looptime
async def test_the_api_server_is_reached_through_http_proxy(sim, tmp_path, namespace,
                                                            monkeypatch):
    # The simulated server answers absolute-form requests: it stands in for the proxy, and the
    # cluster's own host name does not resolve, so only a request through it can pass.
    monkeypatch.setenv("HTTP_PROXY", sim.url)
    monkeypatch.setenv("NO_PROXY", "")
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://cluster.invalid:6443"}}],
        "users": [{"name": "c", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c"}}],
    }))
    sim.create(job(namespace, ("Complete", "True")))
    result = await waiting(config, "k8s", "job/migrate", "-n", namespace,
                           "--for", "condition=Complete",
                           policy=RetryPolicy(max_attempts=1, timeout=5))
    assert result.outcome == engine.READY, result.last_error


def workload(kind: str, namespace: str, spec: dict[str, object],
             status: dict[str, object]) -> dict[str, object]:
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "web", "namespace": namespace, "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template, **spec},
            "status": {"observedGeneration": 1, **status}}


@pytest.mark.looptime
@pytest.mark.parametrize("case", [
    ("Deployment", {"replicas": 3},
     {"replicas": 4, "updatedReplicas": 3, "availableReplicas": 3},
     {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
    ("DaemonSet", {"updateStrategy": {"type": "RollingUpdate"}},
     {"desiredNumberScheduled": 2, "updatedNumberScheduled": 1, "numberAvailable": 2},
     {"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2}),
    ("StatefulSet", {"replicas": 2, "serviceName": "web"},
     {"readyReplicas": 2, "currentRevision": "web-1", "updateRevision": "web-2"},
     {"readyReplicas": 2, "currentRevision": "web-2", "updateRevision": "web-2"}),
])
async def test_rollout_waits_until_every_replica_runs_the_new_template(
        sim, kubeconfig, namespace, case):
    kind, spec, pending, done = case
    made = sim.create(workload(kind, namespace, spec, pending))
    task = waiting(kubeconfig, "k8s", f"{kind.lower()}/web", "-n", namespace, "--for", "rollout")
    await asyncio.sleep(3)
    assert not task.done()
    made["status"] = {"observedGeneration": 1, **done}
    sim.update_status(made)
    result = await task
    assert result.outcome == engine.READY, result.last_error


@pytest.mark.looptime
async def test_a_deployment_past_its_progress_deadline_gives_up(sim, kubeconfig, namespace):
    sim.create(workload("Deployment", namespace, {"replicas": 1}, {
        "replicas": 1, "updatedReplicas": 0,
        "conditions": [{"type": "Progressing", "status": "False",
                        "reason": "ProgressDeadlineExceeded", "message": "web has timed out"}]}))
    result = await waiting(kubeconfig, "k8s", "deploy/web", "-n", namespace, "--for", "rollout")
    assert (result.outcome, result.attempts) == (engine.NOT_RETRYABLE, 1)
    assert "progress deadline" in str(result.last_error)
