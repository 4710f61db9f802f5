"""Settings: durations, precedence (flag > env > file > default), and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gitops_lifecycle import cli
from gitops_lifecycle.settings import SettingsError, load, parse_duration
from gitops_lifecycle.sources import set_path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30), ("30m", 1800), ("1h", 3600), ("7d", 604800), ("2w", 1209600),
        ("1h30m", 5400), ("500ms", 0.5), ("90", 90), ("1.5", 1.5), (" 5m ", 300),
        (45, 45), (2.5, 2.5), (0, 0),
    ],
)
def test_duration_forms_are_understood(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["banana", "", "1x", "h", "-5", "-1h", "1h banana", "nan", "inf", True, None, [1]]
)
def test_bad_durations_are_rejected(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_defaults_match_the_operations_guide() -> None:
    settings = load()
    policies = settings.cleanup.controller.policies
    assert settings.cleanup.controller.interval == 3600
    assert (policies.completed_jobs.ttl, policies.failed_jobs.ttl) == (3600, 86400)
    assert policies.orphaned_providers.max_age == 7 * 86400
    assert all(p.enabled for p in (policies.completed_jobs, policies.failed_jobs))
    retry = settings.retry.defaults
    assert (retry.max_attempts, retry.base_delay, retry.max_delay) == (10, 2, 60)
    assert (retry.backoff_multiplier, retry.jitter) == (2, True)
    assert settings.monitoring.prometheus_rules.thresholds.cleanup_failure_rate == 0.1
    assert settings.monitoring.prometheus_rules.thresholds.max_cleanup_duration == 300
    assert settings.server.port == 8080


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "cleanup:\n"
        "  controller:\n"
        "    interval: 5m\n"
        "    policies:\n"
        "      completedJobs: {ttl: 3h}\n"
        "      failedJobs: {ttl: 4h}\n"
        "retry:\n"
        "  services:\n"
        "    database: {maxAttempts: 50, maxDelay: 20}\n"
    )
    return path


def test_file_overrides_defaults(config_file: Path) -> None:
    settings = load(config_file)
    assert settings.cleanup.controller.interval == 300
    assert settings.cleanup.controller.policies.failed_jobs.ttl == 4 * 3600
    assert settings.cleanup.controller.policies.stuck_pods.threshold == 300  # untouched default


def test_environment_overrides_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__INTERVAL", "30m")
    monkeypatch.setenv("GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__POLICIES__COMPLETEDJOBS__TTL", "2h")
    settings = load(config_file)
    assert settings.cleanup.controller.interval == 1800
    assert settings.cleanup.controller.policies.completed_jobs.ttl == 7200
    assert settings.cleanup.controller.policies.failed_jobs.ttl == 4 * 3600  # from the file


def test_flags_override_environment(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__INTERVAL", "30m")
    settings = load(config_file, {"cleanup": {"controller": {"interval": "7m"}}})
    assert settings.cleanup.controller.interval == 420


def test_service_overrides_lie_over_retry_defaults(config_file: Path) -> None:
    retry = load(config_file).retry
    database = retry.policy("database")
    assert (database.max_attempts, database.max_delay, database.base_delay) == (50, 20, 2)
    assert retry.policy("redis") == retry.defaults


def test_per_service_retry_overrides_from_nested_environment_variables(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Variable names reach the settings in lower case: the keys under a service are matched
    # as every other key is, and service names are case-insensitive.
    monkeypatch.setenv("GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__MAXATTEMPTS", "80")
    monkeypatch.setenv("GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__ATTEMPTTIMEOUT", "15s")
    monkeypatch.setenv("GITOPS_LIFECYCLE_RETRY__SERVICES__Redis__baseDelay", "1m")
    retry = load(config_file).retry
    database, redis = retry.policy("database"), retry.policy("redis")
    assert (database.max_attempts, database.attempt_timeout, database.max_delay) == (80, 15, 20)
    assert (redis.base_delay, redis.max_attempts) == (60, 10)


def test_service_names_are_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("retry:\n  services:\n    MQTT: {maxAttempts: 4}\n")
    retry = load(path).retry
    assert retry.policy("mqtt").max_attempts == retry.policy("MQTT").max_attempts == 4
    path.write_text("retry:\n  services:\n    mqtt: {maxAttempts: 4}\n    MQTT: {}\n")
    with pytest.raises(SettingsError, match=r"retry\.services: .*'mqtt' given twice"):
        load(path)


def test_unknown_key_under_a_service_in_the_environment_names_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__MAXATTEMPS", "3")
    with pytest.raises(SettingsError, match=r"retry\.services\.database\.maxattemps: unknown"):
        load()


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__INTERVAL", "banana")
    with pytest.raises(SettingsError, match=r"cleanup\.controller\.interval: 'banana'.*duration"):
        load()


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cleanup:\n  controller:\n    intervall: 5m\n")
    with pytest.raises(SettingsError, match=r"cleanup\.controller\.intervall: unknown setting"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [("- a\n- b\n", "mapping"), ("a: [\n", "not valid YAML")],
)
def test_malformed_file_is_an_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load(tmp_path / "absent.yaml")


def test_secret_values_are_not_echoed_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("authentik:\n  token: [hunter2]\nserver:\n  port: 70000\n")
    with pytest.raises(SettingsError) as caught:
        load(path)
    assert "authentik.token: *** is invalid" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "server.port: 70000 is invalid" in str(caught.value)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitops_lifecycle", *args],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )


def test_check_config_rejects_a_bad_interval_with_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    env = dict(os.environ, GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__INTERVAL="banana")
    result = _cli("check-config", env=env)
    assert result.returncode == 2
    assert "cleanup.controller.interval" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_config_prints_effective_settings_with_secrets_masked() -> None:
    import os

    env = dict(os.environ, GITOPS_LIFECYCLE_AUTHENTIK__TOKEN="s3cr3t-token")
    result = _cli("check-config", "--set", "cleanup.controller.interval=45m", env=env)
    assert result.returncode == 0, result.stderr
    assert "interval: 45m" in result.stdout
    assert "s3cr3t-token" not in result.stdout
    assert "token: '**********'" in result.stdout


def test_set_without_equals_is_a_usage_error() -> None:
    result = _cli("check-config", "--set", "cleanup.controller.interval")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr


def test_a_section_given_a_value_then_a_key_names_the_key() -> None:
    overrides: dict[str, object] = {}
    set_path(overrides, "retry", 5)
    with pytest.raises(SettingsError, match=r"retry\.defaults\.timeout: .*retry.* is 5, not a"):
        set_path(overrides, "retry.defaults.timeout", 1)


@pytest.mark.parametrize("command", [["check-config"], ["wait", "tcp", "127.0.0.1:1"]])
def test_a_nested_variable_that_is_not_json_names_the_variable(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITOPS_LIFECYCLE_RETRY__SERVICES", "{bad")
    assert cli.main(command) == 2
    message = capsys.readouterr().err
    assert message.startswith("gitops-lifecycle: invalid settings: ")
    assert "GITOPS_LIFECYCLE_RETRY__SERVICES" in message
    assert "Traceback" not in message


def test_set_of_a_key_under_a_value_stops_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["check-config", "--set", "retry=5", "--set", "retry.defaults.timeout=1"]) == 2
    assert "retry.defaults.timeout" in capsys.readouterr().err
