"""The chart as `helm install` renders it: one hardened Deployment, the CRD, no hooks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    METRICS_JOB,
    NAMESPACE,
    RELEASE,
    Rendered,
    helm,
    production_values,
    render,
)

VALUE_SETS = {"default": {}, "production": production_values()}


@pytest.fixture(params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(VALUE_SETS[request.param])


def test_helm_lint_is_clean_for_the_default_and_production_values() -> None:
    for values in VALUE_SETS.values():
        report = helm().lint(str(CHART), values, strict=True, namespace=NAMESPACE)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert problems == [], problems
        assert report["errors"] == []


def test_one_deployment_in_the_release_namespace_with_the_seed_name_label(
        rendered: Rendered) -> None:
    (deployment,) = rendered.of_kind("Deployment")
    assert deployment["metadata"]["name"] == RELEASE
    assert deployment["metadata"]["namespace"] == NAMESPACE
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "gitops-lifecycle-management"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_pod_is_hardened(rendered: Rendered) -> None:
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsUser"] == 65532
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # A read-only root needs somewhere to write temporary files.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["cpu"]


def test_probes_ask_healthz_and_readyz_on_the_metrics_port(rendered: Rendered) -> None:
    (container,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    (port,) = container["ports"]
    assert port["name"] == "http-metrics"
    assert rendered.env()["GITOPS_LIFECYCLE_SERVER__PORT"] == str(port["containerPort"])


def test_no_install_or_upgrade_hooks(rendered: Rendered) -> None:
    for obj in rendered.objects:
        annotations = obj["metadata"].get("annotations") or {}
        assert not [a for a in annotations if a.startswith("helm.sh/hook")], obj["kind"]


def test_the_crd_is_rendered_from_the_shared_file_and_kept_on_uninstall(rendered: Rendered) -> None:
    crd = rendered.one("CustomResourceDefinition")
    shipped = yaml.safe_load((CHART / "files/crds/proxyconfigs.gitops.io.yaml").read_text())
    assert crd == shipped
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_crds_install_false_leaves_the_crd_out() -> None:
    assert "CustomResourceDefinition" not in render({"crds": {"install": False}}).kinds()


def test_servicemonitor_scrapes_the_metrics_service_whose_name_is_the_job(
        rendered: Rendered) -> None:
    service = rendered.one("Service")
    assert service["metadata"]["name"] == METRICS_JOB
    monitor = rendered.one("ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["http-metrics"]
    assert service["spec"]["ports"][0]["name"] == "http-metrics"
    down = next(r for r in rendered.rules() if r["alert"] == "GitOpsCleanupControllerDown")
    assert f'job="{METRICS_JOB}"' in down["expr"]


def test_monitoring_off_renders_no_servicemonitor_rules_or_dashboard() -> None:
    kinds = render({"monitoring": {"enabled": False}}).kinds()
    assert "ServiceMonitor" not in kinds
    assert "PrometheusRule" not in kinds
    assert "ConfigMap" not in kinds


def test_the_dashboard_configmap_is_labelled_for_grafana(rendered: Rendered) -> None:
    (configmap,) = rendered.of_kind("ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert "gitops-lifecycle-management.json" in configmap["data"]


def test_pdb_only_with_more_than_one_replica() -> None:
    assert "PodDisruptionBudget" not in render().kinds()
    two = render({"cleanup": {"controller": {"replicas": 2}}})
    pdb = two.one("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert two.one("Deployment")["spec"]["replicas"] == 2


def test_network_policy_is_optional() -> None:
    assert "NetworkPolicy" not in render().kinds()
    policy = render({"networkPolicy": {"enabled": True}}).one("NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": "http-metrics", "protocol": "TCP"}]


def test_token_from_an_existing_secret_by_default() -> None:
    rendered = render({"authentik": {"tokenSecret": {"name": "authentik-api", "key": "api"}}})
    assert "ExternalSecret" not in rendered.kinds()
    (container,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    token = next(e for e in container["env"] if e["name"] == "GITOPS_LIFECYCLE_AUTHENTIK__TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "authentik-api", "key": "api",
                                                  "optional": True}


def test_token_from_an_externalsecret_in_production() -> None:
    rendered = render(production_values())
    external = rendered.one("ExternalSecret")
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore",
                                                  "name": "onepassword-connect"}
    (container,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    token = next(e for e in container["env"] if e["name"] == "GITOPS_LIFECYCLE_AUTHENTIK__TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == external["spec"]["target"]["name"]


def _set(values: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    *parents, last = dotted.split(".")
    target = changed
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return changed


@pytest.mark.parametrize(("key", "value", "message"), [
    ("cleanup.enabeld", True, "additional properties 'enabeld' not allowed"),
    ("cleanup.controller.policies.completedJobs.ttl", "an hour", "/ttl"),
    ("cleanup.controller.replicas", "2", "got string, want integer"),
    ("cleanup.controller.policies.stuckPods.mode", "force", "/mode"),
    ("monitoring.prometheusRules.thresholds.cleanupFailureRate", 5, "maximum"),
    ("monitoring.prometheusRules.thresholds.maxCleanupDuration", "5m", "want number"),
    ("retry.services.database.maxAttemps", 3, "additional properties 'maxAttemps'"),
    ("image.pullPolicy", "Sometimes", "/pullPolicy"),
    ("kubernetes.qps", 0, "/qps"),
])
def test_the_schema_rejects_unknown_keys_and_wrong_types(key: str, value: Any,
                                                          message: str) -> None:
    h = helm()
    with h.Chart.load(str(CHART)) as chart, pytest.raises(h.HelmValuesError) as caught:
        chart.validate_schema(_set({}, key, value))
    assert message in str(caught.value)
    with pytest.raises(h.HelmError):
        render(_set({}, key, value))


def test_the_schema_accepts_the_shipped_values() -> None:
    h = helm()
    with h.Chart.load(str(CHART)) as chart:
        for values in VALUE_SETS.values():
            chart.validate_schema(values)
        chart.validate_schema({"retry": {"services": {"database": {"maxAttempts": 50,
                                                                     "timeout": "15m"}}}})


SEED_VALUES = """
cleanup:
  enabled: true
  controller:
    interval: "1h"
    policies:
      completedJobs: {enabled: true, ttl: "1h"}
      failedJobs: {enabled: true, ttl: "24h"}
      orphanedProviders: {enabled: true, maxAge: "7d"}
retry:
  enabled: true
  defaults: {maxAttempts: 10, baseDelay: 2, maxDelay: 60, backoffMultiplier: 2, jitter: true}
monitoring:
  enabled: true
  prometheusRules:
    enabled: true
    thresholds: {cleanupFailureRate: 0.1, maxCleanupDuration: 300}
"""
"""The configuration block of the original operations guide, keys and defaults."""


def test_values_keep_the_keys_and_defaults_of_the_original_guide() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def contained(seed: dict[str, Any], ours: dict[str, Any], path: str = "") -> list[str]:
        missing = []
        for key, value in seed.items():
            if isinstance(value, dict):
                missing += contained(value, ours.get(key) or {}, f"{path}{key}.")
            elif ours.get(key) != value:
                missing.append(f"{path}{key}: {ours.get(key)!r} instead of {value!r}")
        return missing

    assert contained(yaml.safe_load(SEED_VALUES), values) == []
    # The original's tuning examples are valid values too.
    with helm().Chart.load(str(CHART)) as chart:
        chart.validate_schema({"retry": {"services": {"database": {
            "maxAttempts": 50, "baseDelay": 1, "maxDelay": 20, "timeout": 900}}},
            "cleanup": {"controller": {"replicas": 2, "interval": "30m", "resources": {
                "limits": {"cpu": "200m", "memory": "256Mi"}}}}})
