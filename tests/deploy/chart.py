"""The chart rendered by Helm's own engine (helm-python-sdk), as `helm install` would."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
CHART = ROOT / "deploy/helm/gitops-lifecycle-management"
PRODUCTION = CHART / "values-production.yaml"
RUNBOOK = ROOT / "docs/operations.md"
RELEASE = "gitops-lifecycle-management"
NAMESPACE = "gitops-system"
METRICS_JOB = f"{RELEASE}-metrics"
SEED_ALERTS = ("GitOpsCleanupControllerDown", "GitOpsCleanupHighFailureRate",
               "GitOpsRetryHighFailureRate", "GitOpsExcessiveJobCleanup")


def helm() -> Any:
    import helm_python

    return helm_python


@dataclass(frozen=True)
class Rendered:
    """The manifests of one render, in template order."""

    objects: tuple[dict[str, Any], ...]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        (found,) = self.of_kind(kind)
        return found

    def kinds(self) -> list[str]:
        return [o["kind"] for o in self.objects]

    def rules(self) -> list[dict[str, Any]]:
        """Every alerting rule of the PrometheusRule."""
        spec = self.one("PrometheusRule")["spec"]
        return [rule for group in spec["groups"] for rule in group["rules"]]

    def rules_file(self) -> str:
        """The PrometheusRule's groups as a Prometheus rules file."""
        return yaml.safe_dump(self.one("PrometheusRule")["spec"], sort_keys=False)

    def env(self) -> dict[str, str]:
        """The controller container's literal environment variables."""
        container = self.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e["value"] for e in container["env"] if "value" in e}

    def yaml(self) -> str:
        return yaml.safe_dump_all(self.objects, sort_keys=False)


def production_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text())
    return values


def render(values: dict[str, Any] | None = None, *, chart: Path = CHART,
           namespace: str = NAMESPACE, upgrade: bool = False, revision: int = 1) -> Rendered:
    """Render as `helm install|upgrade RELEASE chart -n namespace` with `values` would."""
    return _render(chart, yaml.safe_dump(values or {}), namespace, upgrade, revision)


@cache
def _render(chart: Path, values: str, namespace: str, upgrade: bool, revision: int) -> Rendered:
    h = helm()
    with h.Chart.load(os.fspath(chart)) as loaded:
        manifests = loaded.render(values=yaml.safe_load(values), name=RELEASE,
                                  namespace=namespace, revision=revision,
                                  is_install=not upgrade, is_upgrade=upgrade)
    objects: list[dict[str, Any]] = []
    notes = ""
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):
            notes = manifests[path]
            continue
        objects.extend(doc for doc in yaml.safe_load_all(manifests[path]) if doc)
    return Rendered(tuple(objects), notes)


def anchors(markdown: str) -> set[str]:
    """The heading anchors GitHub makes for a Markdown document."""
    found = set()
    for line in markdown.splitlines():
        heading = re.match(r"#+\s+(.*)", line)
        if heading:
            text = heading.group(1).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            found.add(text)
    return found
