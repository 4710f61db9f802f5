"""deploy/flux: the HelmRelease installs this chart from the GitRepository, with valid values."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.deploy.chart import CHART, ROOT, helm, render

FLUX = ROOT / "deploy/flux"


def _load(name: str) -> dict:
    loaded: dict = yaml.safe_load((FLUX / name).read_text())
    return loaded


def test_the_helmrelease_points_at_the_chart_in_the_gitrepository() -> None:
    release, source = _load("helmrelease.yaml"), _load("gitrepository.yaml")
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert release["metadata"] == {"name": "gitops-lifecycle-management",
                                   "namespace": "gitops-system"}
    spec = release["spec"]["chart"]["spec"]
    assert (ROOT / spec["chart"]).resolve() == CHART.resolve()
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"],
                                 "namespace": source["metadata"]["namespace"]}
    # The source's ignore rules keep the chart.
    assert "!/deploy/helm/" in source["spec"]["ignore"]
    assert Path(spec["chart"]).parts[:2] == ("deploy", "helm")


def test_the_helmrelease_values_pass_the_schema_and_render() -> None:
    values = _load("helmrelease.yaml")["spec"]["values"]
    with helm().Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
    assert render(values).one("Deployment")
