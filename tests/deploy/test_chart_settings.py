"""The Deployment's environment is exactly what the daemon's settings read."""

from __future__ import annotations

import os
from typing import Any

import pytest

from gitops_lifecycle.settings import ENV_PREFIX, Settings, effective, load
from tests.deploy.chart import NAMESPACE, RELEASE, production_values, render


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load()


def _subset(expected: dict[str, Any], actual: dict[str, Any], path: str = "") -> list[str]:
    """Keys of `expected` whose value differs in `actual` (durations compared as seconds)."""
    differences = []
    for key, want in expected.items():
        got = actual.get(key)
        where = f"{path}{key}"
        if isinstance(want, dict) and isinstance(got, dict):
            differences += _subset(want, got, where + ".")
        elif want != got:
            differences.append(f"{where}: chart {want!r}, daemon {got!r}")
    return differences


def _daemon_view(values: dict[str, Any]) -> dict[str, Any]:
    """The chart's values as the daemon's settings (the same loader, from a mapping)."""
    controller = {k: v for k, v in values["cleanup"]["controller"].items()
                  if k not in ("replicas", "resources")}
    authentik = {k: v for k, v in values["authentik"].items()
                 if k not in ("tokenSecret", "externalSecret")}
    thresholds = values["monitoring"]["prometheusRules"]["thresholds"]
    mapping = {
        "logging": values["logging"], "gracePeriod": values["gracePeriod"],
        "server": {"port": values["server"]["port"]},
        "kubernetes": values["kubernetes"],
        "cleanup": {**values["cleanup"], "controller": controller},
        "retry": values["retry"],
        "monitoring": {"enabled": values["monitoring"]["enabled"], "prometheusRules": {
            "enabled": values["monitoring"]["prometheusRules"]["enabled"],
            "thresholds": {k: thresholds[k] for k in ("cleanupFailureRate",
                                                      "maxCleanupDuration")}}},
        "authentik": authentik,
        "serviceDiscovery": values["serviceDiscovery"],
    }
    return effective(Settings.model_validate(mapping))


def _merged(overrides: dict[str, Any]) -> dict[str, Any]:
    import yaml

    from tests.deploy.chart import CHART

    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(values, overrides)
    return values


@pytest.mark.parametrize("name", ["default", "production"])
def test_every_environment_variable_is_a_setting_with_the_value_the_chart_was_given(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = production_values() if name == "production" else {}
    env = render(overrides).env()
    assert env, "no GITOPS_LIFECYCLE_* variables rendered"
    assert all(n.startswith(ENV_PREFIX) for n in env)
    # Unknown names would stop the daemon at start-up (exit 2); load() raises for them here.
    daemon = effective(_settings_from(env, monkeypatch))
    differences = _subset(_daemon_view(_merged(overrides)), daemon)
    assert differences == []


def test_the_lease_follows_the_release_name_and_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    env = render(namespace="platform").env()
    election = _settings_from(env, monkeypatch).kubernetes.leader_election
    assert (election.lease_name, election.lease_namespace) == (RELEASE, "platform")
    assert render().env()["GITOPS_LIFECYCLE_KUBERNETES__LEADERELECTION__LEASENAMESPACE"] == \
        NAMESPACE


def test_a_changed_value_reaches_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    env = render({"cleanup": {"dryRun": True, "namespaces": {"exclude": ["kube-system"]},
                              "controller": {"policies": {"stuckPods": {"mode": "report"}}}},
                  "retry": {"services": {"database": {"maxAttempts": 50},
                                         "Redis": {"baseDelay": "5s"}}}}).env()
    # One variable per key, also under a service (names are read in lower case).
    assert env["GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__MAXATTEMPTS"] == "50"
    settings = _settings_from(env, monkeypatch)
    assert settings.cleanup.dry_run is True
    assert settings.cleanup.namespaces.exclude == ["kube-system"]
    assert settings.cleanup.controller.policies.stuck_pods.mode == "report"
    assert settings.retry.policy("database").max_attempts == 50
    assert settings.retry.policy("redis").base_delay == 5
