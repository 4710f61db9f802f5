"""A real Prometheus scrapes the running `gitops-lifecycle demo`, loads the chart's rules and
evaluates them without errors; every dashboard panel query returns data through its HTTP API;
the alerts the demo should raise are seen pending or firing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.deploy.chart import CHART, METRICS_JOB, NAMESPACE, render
from tests.deploy.e2e import KUBECTL, needs_kubectl
from tests.retry.services import binary, free_port, stop, wait_for_port

pytestmark = [needs_kubectl, pytest.mark.timeout(240)]
DASHBOARD = CHART / "files/dashboards/gitops-lifecycle-management.json"
RELISTS = "Informer re-lists and watch restarts"
# What the demo is run with, so that it raises alerts: stuck pods only reported, and a
# blast-radius guard that stops the Job sweep.
DEMO_SETTINGS = ("cleanup.controller.policies.stuckPods.mode=report",
                 "cleanup.blastRadius.maxCount=1", "cleanup.blastRadius.maxShare=0.1")
EXPECTED_ALERTS = {"GitOpsCleanupBlastRadiusBlocked": {"firing"},
                   "GitOpsStuckResourcesAccumulating": {"pending", "firing"}}
T = TypeVar("T")


def _until(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def _process(args: list[str], log: Path, env: dict[str, str] | None = None) -> \
        Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield process
        finally:
            stop(process)


def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    done = subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _finished_wait(kubeconfig: Path, name: str, summary: dict[str, Any]) -> None:
    """A pod whose init container ran `gitops-lifecycle wait` and ended with its summary in
    the termination message, as the kubelet reports it."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ops"},
           "spec": {"initContainers": [{"name": "wait", "image": "gitops-lifecycle"}],
                    "containers": [{"name": "app", "image": "app"}]}}
    _kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(pod))
    created = json.loads(_kubectl(kubeconfig, "get", "pod", name, "-n", "ops", "-o", "json"))
    finished = created["metadata"]["creationTimestamp"]
    status = {"status": {"phase": "Running", "initContainerStatuses": [{
        "name": "wait", "image": "gitops-lifecycle", "imageID": "", "ready": True,
        "restartCount": 0, "state": {"terminated": {
            "exitCode": 0 if summary["outcome"] == "ready" else 1, "reason": "Completed",
            "startedAt": finished, "finishedAt": finished, "message": json.dumps(summary)}}}]}}
    _kubectl(kubeconfig, "patch", "pod", name, "-n", "ops", "--subresource=status",
             "--type=merge", "-p", json.dumps(status))


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def _as_query(expr: str) -> str:
    """A panel's expression with Grafana's variables filled in as the dashboard sets them."""
    return (expr.replace("$__rate_interval", "1m").replace('"$job"', f'"{METRICS_JOB}"')
            .replace('"$namespace"', f'"{NAMESPACE}"'))


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def _relist(kubeconfig: Path) -> None:
    """What a long API server outage or an etcd compaction does to the daemon's watches:
    they are cut, and the resourceVersion they resume from is gone (410), so each informer
    lists again (through the simulated cluster's control endpoint)."""
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    _post(f"{server}/simulation/compact")
    _post(f"{server}/simulation/watches/drop")


def test_prometheus_scrapes_the_demo_evaluates_the_rules_and_fills_every_panel(
        tmp_path: Path) -> None:
    prometheus = binary("prometheus")
    port, web = free_port(), free_port()
    kubeconfig = tmp_path / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    demo = [sys.executable, "-m", "gitops_lifecycle", "demo", "--port", str(port),
            "--duration", "120s", "--speed", "600", "--kubeconfig-out", str(kubeconfig)]
    for setting in DEMO_SETTINGS:
        demo += ["--set", setting]
    (tmp_path / "rules.yaml").write_text(render().rules_file())
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        # What the ServiceMonitor makes: the job is the Service's name, the target carries
        # the namespace (so the retry metrics' own namespace label becomes exported_namespace).
        "scrape_configs": [{"job_name": METRICS_JOB, "static_configs": [
            {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": NAMESPACE}}]}],
    }))
    api = f"http://127.0.0.1:{web}/api/v1"

    def query(promql: str) -> list[dict[str, Any]]:
        answer = _get(f"{api}/query?" + urllib.parse.urlencode({"query": promql}))
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    with _process(demo, tmp_path / "demo.log", env), _process(
            [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{web}"], tmp_path / "prometheus.log"):
        wait_for_port(port, timeout=60)
        wait_for_port(web, timeout=60)
        _until("the demo's kubeconfig", kubeconfig.exists)
        _finished_wait(kubeconfig, "web-ok", {
            "check": "postgres", "target": "db:5432", "attempts": 3, "duration_seconds": 4.2,
            "outcome": "ready", "last_error": None})
        _finished_wait(kubeconfig, "web-failed", {
            "check": "postgres", "target": "db:5432", "attempts": 10,
            "duration_seconds": 300.0, "outcome": "timeout", "last_error": "refused"})
        _until("the target up", lambda: query(f'up{{job="{METRICS_JOB}"}} == 1'))
        _until("retry metrics", lambda: query("gitops_retry_success_total"))
        _until("a few scrapes of them", lambda: query(
            "count_over_time(gitops_retry_success_total[1m]) > 5"))
        # Every rule loaded and evaluated without an error.
        groups = _until("rules evaluated", lambda: [
            g for g in _get(f"{api}/rules")["data"]["groups"]
            if all(r.get("lastEvaluation", "0001").startswith("20") for r in g["rules"])])
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) == len(render().rules())
        assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []

        # Every dashboard panel query returns data: a user who imports the dashboard sees no
        # empty panel (re-lists and watch restarts at 0 while the watches are healthy).
        empty, filled = [], 0
        for title, expr in _panel_queries():
            if not query(_as_query(expr)):
                empty.append(f"{title}: {expr}")
            else:
                filled += 1
        assert empty == [], "dashboard panels without data"

        # Watches cut and their history compacted: the re-list panel counts each kind's list.
        _relist(kubeconfig)
        relisted = [_as_query(expr) for title, expr in _panel_queries()
                    if title == RELISTS and "relists" in expr]
        assert len(relisted) == 1
        _until("re-lists on the dashboard", lambda: query(f"{relisted[0]} > 0"))

        # The alerts the demo raises.
        def raised() -> dict[str, set[str]] | None:
            alerts = _get(f"{api}/alerts")["data"]["alerts"]
            states: dict[str, set[str]] = {}
            for alert in alerts:
                states.setdefault(alert["labels"]["alertname"], set()).add(alert["state"])
            ok = all(states.get(name, set()) & wanted
                     for name, wanted in EXPECTED_ALERTS.items())
            return states if ok else None

        states = _until("the demo's alerts", raised)
        assert "GitOpsCleanupControllerDown" not in states
        figures = f"{len(rules)} rules ok; {filled} panel queries with data; alerts {states}"
        print(figures)  # noqa: T201 - the figures, for `pytest -s`
