"""`wait k8s`, `wait secret` and `wait externalsecret` against the simulated cluster."""

from __future__ import annotations

import asyncio
import base64
import sys
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from gitops_lifecycle import cli
from gitops_lifecycle.retry import commands, engine
from gitops_lifecycle.settings import RetryPolicy, load
from gitops_lifecycle.simulation import SimulatedCluster

_names = count()
POLICY = RetryPolicy(max_attempts=1000, base_delay=0.5, max_delay=2, timeout=60,
                     attempt_timeout=5)


@pytest.fixture
def namespace() -> str:
    return f"wait-{next(_names)}"


def waiting(
    kubeconfig: Path, *argv: str, policy: RetryPolicy = POLICY,
) -> asyncio.Task[engine.Result]:
    args = cli.parser().parse_args(["wait", *argv, "--kubeconfig", str(kubeconfig)])
    settings = load(overrides={"kubernetes": {"kubeconfig": str(kubeconfig)}})
    check = commands._module(args.check).build(args, settings)
    return asyncio.create_task(engine.run(check.attempt, policy=policy))


def deployment(namespace: str, *, available: str | None = None, generation: int = 1,
               observed: int = 1) -> dict[str, object]:
    conditions = [] if available is None else [
        {"type": "Available", "status": available, "reason": "MinimumReplicasAvailable"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace, "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}},
            "status": {"observedGeneration": observed, "conditions": conditions}}


def job(namespace: str, *conditions: tuple[str, str]) -> dict[str, object]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}],
                                           "restartPolicy": "Never"}}},
            "status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}


@pytest.mark.looptime
async def test_a_deployment_is_waited_for_until_it_is_available(sim, kubeconfig, namespace):
    task = waiting(kubeconfig, "k8s", "deploy/web", "-n", namespace,
                   "--for", "condition=Available")
    await asyncio.sleep(3)
    created = sim.create(deployment(namespace, available="False"))
    await asyncio.sleep(3)
    assert not task.done()
    created["status"]["conditions"][0]["status"] = "True"
    sim.update_status(created)
    result = await task
    assert result.outcome == engine.READY
    assert result.attempts > 2


def new_spec(sim: SimulatedCluster, made: dict[str, Any]) -> dict[str, Any]:
    made["spec"]["template"]["spec"]["containers"][0]["image"] = "y"
    updated = sim.update(made)
    assert updated["metadata"]["generation"] == 2
    return updated


@pytest.mark.looptime
async def test_a_status_for_an_older_generation_is_ignored(sim, kubeconfig, namespace):
    new_spec(sim, sim.create(deployment(namespace, available="True")))
    result = await waiting(kubeconfig, "k8s", "deployment/web", "-n", namespace,
                           "--for", "condition=Available=True",
                           policy=POLICY.model_copy(update={"timeout": 5}))
    assert result.outcome == engine.TIMEOUT
    assert "generation" in str(result.last_error)


@pytest.mark.looptime
async def test_a_condition_written_for_an_older_generation_is_ignored(sim, kubeconfig, namespace):
    # Conditions of the metav1.Condition kind (custom resources) carry observedGeneration.
    made = sim.create(external_secret(namespace))
    made["spec"]["refreshInterval"] = "1m"
    made = sim.update(made)
    assert made["metadata"]["generation"] == 2
    made["status"]["observedGeneration"] = 2
    made["status"]["conditions"][0]["observedGeneration"] = 1
    sim.update_status(made)
    result = await waiting(kubeconfig, "k8s", "es/creds", "-n", namespace,
                           "--for", "condition=Ready",
                           policy=POLICY.model_copy(update={"timeout": 5}))
    assert result.outcome == engine.TIMEOUT
    assert "no current Ready" in str(result.last_error)


@pytest.mark.looptime
async def test_a_complete_job_passes_and_a_failed_one_gives_up(sim, kubeconfig, namespace):
    sim.create(job(namespace, ("Complete", "True")))
    done = await waiting(kubeconfig, "k8s", "job/migrate", "-n", namespace,
                         "--for", "condition=Complete")
    other = f"{namespace}-failed"
    sim.create(job(other, ("Failed", "True")))
    failed = await waiting(kubeconfig, "k8s", "job/migrate", "-n", other,
                           "--for", "condition=Complete")
    assert done.outcome == engine.READY
    assert (failed.outcome, failed.attempts) == (engine.NOT_RETRYABLE, 1)


@pytest.mark.looptime
async def test_a_job_removed_by_its_ttl_counts_as_done_with_gone_ok(sim, kubeconfig, namespace):
    gone = await waiting(kubeconfig, "k8s", "job/migrate", "-n", namespace,
                         "--for", "condition=Complete", "--gone-ok")
    strict = await waiting(kubeconfig, "k8s", "job/migrate", "-n", namespace,
                           "--for", "condition=Complete",
                           policy=POLICY.model_copy(update={"timeout": 3}))
    assert gone.outcome == engine.READY
    assert (strict.outcome, strict.last_error) == (engine.TIMEOUT,
                                                   f"job/{namespace}/migrate not found")


@pytest.mark.looptime
async def test_a_pod_is_ready_and_a_jsonpath_value_matches(sim, kubeconfig, namespace):
    sim.create({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "db-0", "namespace": namespace},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
                "status": {"phase": "Running",
                           "conditions": [{"type": "Ready", "status": "True"}]}})
    ready = await waiting(kubeconfig, "k8s", "pod/db-0", "-n", namespace)
    phase = await waiting(kubeconfig, "k8s", "pod/db-0", "-n", namespace,
                          "--for", "jsonpath='{.status.phase}'=Running")
    assert (ready.outcome, phase.outcome) == (engine.READY, engine.READY)


@pytest.mark.looptime
async def test_delete_waits_until_the_object_is_gone(sim, kubeconfig, namespace):
    sim.create(job(namespace))
    task = waiting(kubeconfig, "k8s", "job/migrate", "-n", namespace, "--for", "delete")
    await asyncio.sleep(3)
    assert not task.done()
    sim.delete("batch/v1", "Job", "migrate", namespace=namespace)
    assert (await task).outcome == engine.READY


def secret(namespace: str, **data: str) -> dict[str, object]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": namespace}, "data": encoded}


@pytest.mark.looptime
async def test_a_secret_needs_every_key_non_empty_and_values_never_show(sim, kubeconfig,
                                                                        namespace):
    made = sim.create(secret(namespace, username="app", password=""))
    task = waiting(kubeconfig, "secret", f"{namespace}/db", "--keys", "username,password,host")
    await asyncio.sleep(3)
    assert not task.done()
    made["data"]["password"] = base64.b64encode(b"s3cr3t-value").decode()
    made["data"]["host"] = base64.b64encode(b"db.local").decode()
    sim.update(made)
    result = await task
    assert result.outcome == engine.READY


@pytest.mark.looptime
async def test_missing_secret_keys_are_named_without_values(sim, kubeconfig, namespace):
    sim.create(secret(namespace, username="app-user", password=""))
    result = await waiting(kubeconfig, "secret", f"{namespace}/db", "--keys",
                           "username,password,host",
                           policy=POLICY.model_copy(update={"timeout": 3}))
    assert result.last_error == "missing keys: host; empty keys: password"


def external_secret(namespace: str, *, api: str = "v1", status: str = "True",
                    reason: str = "SecretSynced", synced: str = "1-abc",
                    refreshed: bool = True) -> dict[str, object]:
    state: dict[str, object] = {
        "conditions": [{"type": "Ready", "status": status, "reason": reason}],
        "syncedResourceVersion": synced,
    }
    if refreshed:
        state["refreshTime"] = "2030-01-01T00:00:00Z"
    return {"apiVersion": f"external-secrets.io/{api}", "kind": "ExternalSecret",
            "metadata": {"name": "creds", "namespace": namespace, "generation": 1},
            "spec": {"secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"}},
            "status": state}


@pytest.mark.looptime
@pytest.mark.parametrize("api", ["v1", "v1beta1"])
async def test_a_synced_external_secret_is_ready_in_either_api_version(sim, kubeconfig,
                                                                       namespace, api):
    sim.create(external_secret(namespace, api=api))
    result = await waiting(kubeconfig, "externalsecret", f"{namespace}/creds")
    assert result.outcome == engine.READY


@pytest.mark.looptime
@pytest.mark.parametrize(("changes", "reason"), [
    ({"status": "False", "reason": "SecretSyncedError"}, "SecretSyncedError"),
    ({"refreshed": False}, "refreshTime"),
    ({"synced": "0-abc"}, "generation"),
])
async def test_an_external_secret_not_yet_synced_is_waited_for(sim, kubeconfig, namespace,
                                                                changes, reason):
    sim.create(external_secret(namespace, **changes))
    result = await waiting(kubeconfig, "externalsecret", f"{namespace}/creds",
                           policy=POLICY.model_copy(update={"timeout": 3}))
    assert result.outcome == engine.TIMEOUT
    assert reason in str(result.last_error)


async def test_the_real_process_waits_for_a_deployment_in_the_simulated_cluster(
        sim, kubeconfig, namespace):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "wait", "k8s", "deploy/web", "-n", namespace,
        "--for", "condition=Available", "--kubeconfig", str(kubeconfig), "--base-delay", "0.2",
        "--max-delay", "0.5", "--timeout", "30", "--max-attempts", "1000",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(2)
    sim.create(deployment(namespace, available="True"))
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert b'"outcome":"ready"' in out
