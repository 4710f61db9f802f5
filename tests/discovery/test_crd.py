"""The ProxyConfig CRD: one file, shipped by the chart and carried by the package."""

from __future__ import annotations

from pathlib import Path

from gitops_lifecycle import crds

CHART_FILE = (
    Path(__file__).parents[2]
    / "deploy/helm/gitops-lifecycle-management/files/crds/proxyconfigs.gitops.io.yaml"
)


def _version(crd: dict) -> dict:
    (version,) = crd["spec"]["versions"]
    return version


def test_package_copy_is_the_chart_file() -> None:
    assert crds.PROXYCONFIGS.resolve() == CHART_FILE.resolve()


def test_crd_names_group_and_short_name() -> None:
    crd = crds.load()
    assert crd["metadata"]["name"] == "proxyconfigs.gitops.io"
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == ["pc"]
    version = _version(crd)
    assert version["name"] == "v1"
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    columns = [c["name"] for c in _version(crds.load())["additionalPrinterColumns"]]
    assert columns == ["Service", "Namespace", "External Host", "Phase", "Age"]


def test_schema_keeps_the_seed_fields_and_defaults() -> None:
    spec = _version(crds.load())["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]
    assert props["port"]["default"] == 80
    assert props["protocol"]["enum"] == ["http", "https"]
    config = props["authentikConfig"]["properties"]
    assert props["authentikConfig"]["required"] == ["providerName"]
    assert config["enabled"]["default"] is True
    assert config["mode"]["default"] == "forward_single"
    assert config["skipPathRegex"]["default"] == "^/api/.*$"
    assert config["basicAuthEnabled"]["default"] is False
    assert config["internalHostSslValidation"]["default"] is False
    assert props["deletionPolicy"]["enum"] == ["Delete", "Retain"]
    status = _version(crds.load())["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["properties"]["phase"]["enum"] == ["Pending", "Ready", "Degraded", "Failed"]
