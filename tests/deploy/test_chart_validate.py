"""Every rendered manifest is valid for the oldest and newest Kubernetes the chart claims."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, production_values, render

# Kinds served by CRDs of other projects: kubernetes-validate has no schema for them.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ExternalSecret"}


def _claimed_versions() -> tuple[str, str]:
    """The oldest and newest Kubernetes version in the chart's kubeVersion range that
    kubernetes-validate has schemas for."""
    from kubernetes_validate import utils
    from packaging.version import Version

    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    lower = re.search(r">=\s*([\d.]+)", constraint)
    upper = re.search(r"<\s*([\d.]+)", constraint)
    assert lower, constraint
    assert upper, constraint
    low, high = Version(lower.group(1)), Version(upper.group(1))
    known = sorted({Version(v) for v in utils.all_versions()})
    inside = [v for v in known if low <= v < high]
    assert inside[0] == low, f"no schemas for the oldest claimed version {low}"
    return str(inside[0]), str(inside[-1])


OLDEST, NEWEST = _claimed_versions()


def _validate(obj: dict[str, Any], version: str) -> None:
    from kubernetes_validate import utils

    utils.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
@pytest.mark.parametrize("values", ["default", "production", "everything on"])
def test_rendered_manifests_pass_strict_validation(version: str, values: str) -> None:
    chosen = {"default": {}, "production": production_values(),
              "everything on": {"networkPolicy": {"enabled": True},
                                "authentik": {"externalSecret": {"enabled": True}},
                                "cleanup": {"controller": {"replicas": 2}}}}[values]
    rendered = render(chosen)
    checked = []
    for obj in rendered.objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        _validate(obj, version)
        checked.append(obj["kind"])
    assert {"Deployment", "ServiceAccount", "ClusterRole", "Role", "Service",
            "CustomResourceDefinition"} <= set(checked)
    assert set(rendered.kinds()) - set(checked) <= CUSTOM_KINDS


def test_strict_validation_catches_a_misspelt_field() -> None:
    from kubernetes_validate import utils

    deployment = render().one("Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(utils.ValidationError):
        _validate(broken, NEWEST)
