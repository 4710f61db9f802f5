"""The PrometheusRule: 15+ alerts with runbooks, valid for promtool, each unit-tested both ways."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import RUNBOOK, SEED_ALERTS, anchors, production_values, render
from tests.retry.services import binary

UNIT_TESTS = Path(__file__).parent / "alerts.test.yaml"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("values", ["default", "production"])
def test_promtool_check_rules_accepts_the_rendered_rules(values: str, tmp_path: Path) -> None:
    rendered = render(production_values() if values == "production" else {})
    (tmp_path / "rules.yaml").write_text(rendered.rules_file())
    checked = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rendered.rules())} rules found" in checked.stdout


def test_promtool_check_rules_rejects_a_broken_expression(tmp_path: Path) -> None:
    spec = yaml.safe_load(render().rules_file())
    spec["groups"][0]["rules"][0]["expr"] = "sum(rate(gitops_cleanup_errors_total[5m])"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    assert _promtool("check", "rules", "rules.yaml", cwd=tmp_path).returncode != 0


def test_fifteen_or_more_alerts_including_the_seeds_four() -> None:
    names = [rule["alert"] for rule in render().rules()]
    assert len(names) >= 15
    assert len(set(names)) == len(names)
    assert set(SEED_ALERTS) <= set(names)


def test_every_alert_has_a_summary_a_description_and_a_runbook_section() -> None:
    sections = anchors(RUNBOOK.read_text())
    for rule in render().rules():
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page.endswith("operations.md"), rule["alert"]
        assert anchor in sections, f"{rule['alert']}: no section #{anchor} in {RUNBOOK.name}"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}


def test_thresholds_come_from_the_values() -> None:
    rules = {r["alert"]: r for r in render({"monitoring": {"prometheusRules": {"thresholds": {
        "cleanupFailureRate": 0.25, "maxCleanupDuration": 120}}}}).rules()}
    assert rules["GitOpsCleanupHighFailureRate"]["expr"].endswith("> 0.25")
    assert rules["GitOpsCleanupCycleTooLong"]["expr"].endswith("> 120")


def test_every_alert_fires_in_one_unit_test_and_stays_quiet_in_another() -> None:
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fires, quiet = set(), set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in render().rules()}
    assert names - fires == set(), "alerts never seen firing"
    assert names - quiet == set(), "alerts never seen quiet"


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    # The unit tests are about when alerts fire; their annotations (templated with $value) are
    # checked by `promtool check rules` above and by the real Prometheus run.
    spec = yaml.safe_load(render().rules_file())
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    shutil.copy(UNIT_TESTS, tmp_path / "alerts.test.yaml")
    tested = _promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
