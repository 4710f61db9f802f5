"""OpenAPI documents and schema validation, as kubectl and the official client use them.

Rules followed: the Kubernetes API concepts, "Field validation" (fieldValidation=Strict|Warn|
Ignore, `kubectl --validate`), and "OpenAPI V3" (`/openapi/v3` lists one document per group
version, which kubectl reads for `explain`, for validation and for patches):
https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation and
https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-interface-definition.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import kubernetes
import pytest
from clients import kubectl, kubectl_run, needs_kubectl

from gitops_lifecycle.simulation import SimulatedCluster

JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: backup, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [sh, -c, "sleep 5"]}]
"""


def test_schema_file_is_current_with_the_upstream_schemas() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "kube_schemas.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr


@needs_kubectl
async def test_kubectl_create_and_apply_validate_against_the_server(
    sim: SimulatedCluster, kubeconfig: Path
) -> None:
    await kubectl(kubeconfig, "create", "-f", "-", stdin=JOB)
    applied = JOB.replace("sleep 5", "sleep 6").replace("backup", "restore")
    await kubectl(kubeconfig, "apply", "-f", "-", stdin=applied)
    await kubectl(kubeconfig, "apply", "-f", "-", stdin=applied.replace(
        "metadata: {name: restore, namespace: default}",
        "metadata: {name: restore, namespace: default, labels: {tier: db}}"))
    restored = sim.get("batch/v1", "Job", "restore", "default")
    assert sim.get("batch/v1", "Job", "backup", "default") is not None
    assert restored is not None
    assert restored["metadata"]["labels"] == {"tier": "db"}
    fetched = [r for r in sim.requests if r.path.startswith("/openapi/v3")]
    creates = [r for r in sim.requests if r.method == "POST"]
    assert fetched
    assert {r.query.get("fieldValidation") for r in creates} == {"Strict"}


@needs_kubectl
async def test_kubectl_rejects_an_unknown_field_naming_it_and_warn_drops_it(
    sim: SimulatedCluster, kubeconfig: Path
) -> None:
    broken = JOB.replace("restartPolicy: Never", "restartPolicy: Never\n      bogus: 1")
    strict = await kubectl_run(kubeconfig, "create", "-f", "-", stdin=broken)
    warned = await kubectl_run(kubeconfig, "create", "--validate=warn", "-f", "-",
                               stdin=broken)
    stored = sim.get("batch/v1", "Job", "backup", "default")
    assert strict.code != 0
    assert 'unknown field "spec.template.spec.bogus"' in strict.err
    assert warned.code == 0, warned.err
    assert 'unknown field "spec.template.spec.bogus"' in warned.err
    assert stored is not None
    assert "bogus" not in stored["spec"]["template"]["spec"]


@needs_kubectl
async def test_kubectl_explain_reads_the_upstream_schema(kubeconfig: Path) -> None:
    explained = await kubectl(kubeconfig, "explain", "job.spec")
    deep = await kubectl(kubeconfig, "explain", "pods.spec.containers.image")
    assert "backoffLimit" in explained
    assert "FIELDS:" in explained
    assert "Container image name" in deep


async def test_openapi_v2_and_v3_are_served_to_the_official_client(
    official: kubernetes.client.ApiClient,
) -> None:
    def fetch(path: str) -> dict:
        response = official.call_api(path, "GET", response_type="object",
                                     _return_http_data_only=True, _preload_content=True,
                                     header_params={"Accept": "application/json"})
        return response if isinstance(response, dict) else json.loads(response)

    v2 = await asyncio.to_thread(fetch, "/openapi/v2")
    index = await asyncio.to_thread(fetch, "/openapi/v3")
    url = index["paths"]["apis/coordination.k8s.io/v1"]["serverRelativeURL"]
    leases = await asyncio.to_thread(fetch, url.split("?")[0])
    lease = leases["components"]["schemas"]["io.k8s.api.coordination.v1.Lease"]
    assert v2["swagger"] == "2.0"
    assert "io.k8s.api.batch.v1.Job" in v2["definitions"]
    assert {"api/v1", "apis/batch/v1", "apis/apps/v1"} <= set(index["paths"])
    assert lease["x-kubernetes-group-version-kind"] == [
        {"group": "coordination.k8s.io", "kind": "Lease", "version": "v1"}]
    patch = leases["paths"][
        "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


@pytest.mark.parametrize(("directive", "code"), [("Strict", 400), ("Warn", 201),
                                                 ("Ignore", 201)])
async def test_field_validation_directives_of_the_official_client(
    official: kubernetes.client.ApiClient, sim: SimulatedCluster, directive: str, code: int,
) -> None:
    core = kubernetes.client.CoreV1Api(official)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
            "data": {"a": "1"}, "extra": True}

    def create() -> tuple[int, dict[str, str], str]:
        try:
            _, status, headers = core.create_namespaced_config_map_with_http_info(
                "default", body, field_validation=directive)
        except kubernetes.client.ApiException as exc:
            return exc.status, dict(exc.headers or {}), exc.body
        return status, dict(headers), ""

    status, headers, error = await asyncio.to_thread(create)
    stored = sim.get("v1", "ConfigMap", "settings", "default")
    assert status == code
    if directive == "Strict":
        assert json.loads(error)["message"] == 'strict decoding error: unknown field "extra"'
        assert stored is None
    else:
        assert stored is not None
        assert "extra" not in stored
        assert ("unknown field" in headers.get("Warning", "")) == (directive == "Warn")


def test_every_served_built_in_kind_has_its_upstream_schema() -> None:
    """Without one a kind is missing from /openapi/v3, and kubectl falls back to /openapi/v2
    in protobuf to validate it (`failed to download openapi`)."""
    from gitops_lifecycle.simulation.kubeapi import resources, schema

    missing = [f"{rt.api_version} {rt.kind}" for rt in resources.RESOURCES
               if schema.definition_name(rt.api_version, rt.kind) is None]
    assert missing == []
