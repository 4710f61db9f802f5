"""The names a user of the original system already types — metrics, commands, Services,
labels — exist in the chart and the daemon, or docs/operations.md says what replaced them."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from prometheus_client import REGISTRY, generate_latest

from gitops_lifecycle import cli, daemon
from tests.deploy.chart import CHART, RUNBOOK, render

# The metrics the original operations guide tells users to watch.
SEED_METRICS = ("gitops_cleanup_jobs_cleaned_total", "gitops_cleanup_cycle_duration_seconds",
                "gitops_cleanup_errors_total", "gitops_retry_attempts_total",
                "gitops_retry_success_total", "gitops_retry_failure_total",
                "gitops_retry_duration_seconds")
# Names in the original guide's commands that one Deployment could not keep.
SEED_RENAMED = ("./charts/gitops-lifecycle-management",
                "gitops-lifecycle-management-cleanup`",
                "gitops-lifecycle-management-service-discovery`",
                "app.kubernetes.io/component=cleanup-controller",
                "app.kubernetes.io/component=service-discovery-controller",
                "gitops-lifecycle-management-cleanup-metrics",
                "gitops-lifecycle-management-retry-metrics",
                "gitops-lifecycle-management-service-discovery-metrics",
                "gitops-lifecycle-management-cleanup-scripts", "/scripts/", "/retry-metrics",
                "status.phase=Terminating", "-- curl")
DASHBOARD = CHART / "files/dashboards/gitops-lifecycle-management.json"
_METRIC = re.compile(r"\bgitops_[a-z_]*[a-z]")


def _exported() -> set[str]:
    """Every metric family the daemon defines, by the names a scrape shows."""
    assert daemon.run  # the daemon's modules, and with them every metric, are loaded
    names = set()
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            names.add(name)
            names |= {f"{name}_{s}" for s in {"counter": ("total",),
                                               "histogram": ("bucket", "sum", "count")}
                      .get(kind, ())}
    return names


def _code_lines(markdown: str) -> list[str]:
    """The lines of the document's fenced code blocks, continuations joined."""
    lines, inside = [], False
    for line in markdown.replace("\\\n", " ").splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


def test_the_original_guides_metrics_are_exported() -> None:
    assert sorted(set(SEED_METRICS) - _exported()) == []


@pytest.mark.parametrize("where", ["runbook", "dashboard", "alerts"])
def test_every_metric_the_runbook_dashboard_and_alerts_name_is_exported(where: str) -> None:
    text = {"runbook": RUNBOOK.read_text,
            "dashboard": lambda: json.dumps(json.loads(DASHBOARD.read_text())),
            "alerts": lambda: render().rules_file()}[where]()
    # A prefix (`grep gitops_cleanup`, `gitops_retry_*`) names a family of metrics.
    prefixes = set(re.findall(r"grep (gitops_[a-z_]+)\n|\b(gitops_[a-z_]+_)\*", text))
    named = set(_METRIC.findall(text)) - {p.rstrip("_") for pair in prefixes for p in pair if p}
    assert named
    assert sorted(named - _exported()) == []


def test_every_gitops_lifecycle_command_in_the_runbook_exists() -> None:
    commands = []
    for line in _code_lines(RUNBOOK.read_text()):
        words = shlex.split(line, comments=True)
        if "gitops-lifecycle" in words:
            commands.append(words[words.index("gitops-lifecycle") + 1:])
    assert ["authentik", "check"] in commands
    for argv in commands:
        cli.parser().parse_args(argv)  # exits 2, naming the word, if there is no such command


def test_each_name_of_the_original_that_changed_is_mapped_in_the_runbook() -> None:
    table = RUNBOOK.read_text().split("## Names: the original system's and ours", 1)[1]
    table = table.split("\n## ", 1)[0]
    originals = "\n".join(row.split(" | ")[0] for row in table.splitlines()
                          if row.startswith("| "))
    rendered = json.dumps([o for o in render().objects if o["kind"] != "ConfigMap"])
    for name in SEED_RENAMED:
        assert name.strip("`") not in rendered, f"{name} is the chart's: not renamed"
    assert [name for name in SEED_RENAMED if name not in originals] == []
