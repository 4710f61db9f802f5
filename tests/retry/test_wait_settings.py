"""`wait` reads its few settings without the settings model, and always as the model would.

The reader either gives exactly what the model gives from the same flags, variables and
file, or declines (Unsure) and leaves it to the model; it must never accept what the model
refuses, nor read a value otherwise.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gitops_lifecycle.retry import waitsettings
from gitops_lifecycle.retry.policy import Policy
from gitops_lifecycle.retry.waitsettings import Unsure, WaitSettings
from gitops_lifecycle.settings import RetryPolicy, SettingsError, load

EXISTING = Path(__file__)  # a file that exists, for kubernetes.kubeconfig
POLICY_KEYS = ("maxAttempts", "max_attempts", "baseDelay", "maxDelay", "max_delay",
               "backoffMultiplier", "jitter", "timeout", "attemptTimeout", "attempt_timeout",
               "maxattempts", "retries")
TEXT = ("debug", "DEBUG", "info", "error", "json", "console", "auto", "", " 7", "07", "0", "1",
        "3", "12", "1.5", "2", "2.50", "1e1", "inf", "nan", "-1", "true", "Off", "T", "yes", "NO",
        "maybe", "5m", "90", "1h30m", "-3s", "10ms", "null", "ctx", str(EXISTING), "/nonexistent",
        str(EXISTING.parent))
VALUES = st.one_of(st.sampled_from(TEXT), st.integers(-2, 200), st.booleans(), st.none(),
                   st.sampled_from([0.5, 1.0, 2.0, 2.5, 3.0, float("inf"), float("nan")]),
                   st.just(EXISTING), st.just({}), st.just({"x": 1}), st.just([1]))
POLICIES = st.dictionaries(st.sampled_from(POLICY_KEYS), VALUES, max_size=3)
SERVICES = st.dictionaries(st.sampled_from(["tcp", "database", "TCP", "Database"]),
                           st.one_of(POLICIES, st.none()), max_size=2)
SECTIONS = st.fixed_dictionaries({}, optional={
    "logging": st.one_of(st.dictionaries(st.sampled_from(["level", "format", "Level", "colour"]),
                                         VALUES, max_size=2), st.none()),
    "kubernetes": st.dictionaries(st.sampled_from(["kubeconfig", "context", "qps"]), VALUES,
                                  max_size=2),
    "retry": st.fixed_dictionaries({}, optional={
        "defaults": POLICIES, "services": SERVICES, "circuitBreaker": st.just({})}),
    "cleanup": st.just({"dryRun": True}),
})
def _plain(data: Any) -> Any:
    """What YAML and JSON can hold: paths as text."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    return str(data) if isinstance(data, Path) else data


VARIABLES_NAMES = (
    "GITOPS_LIFECYCLE_LOGGING__LEVEL", "gitops_lifecycle_logging__level",
    "GITOPS_LIFECYCLE_LOGGING__FORMAT", "GITOPS_LIFECYCLE_KUBERNETES__KUBECONFIG",
    "GITOPS_LIFECYCLE_KUBERNETES__CONTEXT", "GITOPS_LIFECYCLE_RETRY__DEFAULTS__MAXATTEMPTS",
    "GITOPS_LIFECYCLE_RETRY__DEFAULTS__MAX_ATTEMPTS", "GITOPS_LIFECYCLE_RETRY__DEFAULTS__JITTER",
    "GITOPS_LIFECYCLE_RETRY__DEFAULTS__TIMEOUT", "GITOPS_LIFECYCLE_RETRY__DEFAULTS__BASEDELAY",
    "GITOPS_LIFECYCLE_RETRY__DEFAULTS__BACKOFFMULTIPLIER", "GITOPS_LIFECYCLE_RETRY__SERVICES",
    "GITOPS_LIFECYCLE_RETRY__SERVICES__TCP__TIMEOUT", "GITOPS_LIFECYCLE_SERVER__PORT",
    "GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__MAXATTEMPTS",
    "GITOPS_LIFECYCLE_RETRY__SERVICES__Database__baseDelay",
    "GITOPS_LIFECYCLE_RETRY__SERVICES__TCP__MAX_ATTEMPTS",
    "GITOPS_LIFECYCLE_RETRY__SERVICES__A__B__TIMEOUT",
)
VARIABLES = st.dictionaries(
    st.sampled_from(VARIABLES_NAMES),
    st.one_of(st.sampled_from(TEXT), SERVICES.map(lambda s: json.dumps(_plain(s))),
              st.just("{not json")),
    max_size=4,
)


def by_model(config: Path | None, overrides: dict[str, Any]) -> WaitSettings | None:
    try:
        return WaitSettings.of(load(config, overrides))
    except SettingsError:
        return None


def by_reader(config: Path | None, overrides: dict[str, Any],
              environ: dict[str, str]) -> WaitSettings | None:
    try:
        return waitsettings.read(config, overrides, environ)
    except Unsure:
        return None


def shown(found: WaitSettings) -> str:
    """Everything `wait` can read of the settings, with the types of the values."""
    services = sorted({*found.retry.services, "tcp", "database", "TCP", "Database"})
    return repr((found.logging, found.kubernetes,
                 [(name, found.retry.policy(name)) for name in services]))


# Mostly what a valid configuration holds, so that the reader reads more often.
PLAUSIBLE = st.sampled_from(["3", "12", "1.5", "5m", "off", "true", "yes", "json", "error",
                             "console", "ctx", str(EXISTING), 1, 4, 2.5, True, False, None])
PLAUSIBLE_POLICY = st.dictionaries(st.sampled_from(POLICY_KEYS[:-2]), PLAUSIBLE, max_size=3)
PLAUSIBLE_SECTIONS = st.fixed_dictionaries({}, optional={
    "logging": st.dictionaries(st.sampled_from(["level", "format"]), PLAUSIBLE, max_size=2),
    "kubernetes": st.dictionaries(st.sampled_from(["kubeconfig", "context"]), PLAUSIBLE,
                                  max_size=2),
    "retry": st.fixed_dictionaries({}, optional={
        "defaults": PLAUSIBLE_POLICY,
        "services": st.dictionaries(st.sampled_from(["tcp", "database", "Database"]),
                                    PLAUSIBLE_POLICY, max_size=2)}),
})
PLAUSIBLE_VARIABLES = st.dictionaries(
    st.sampled_from([name for name in VARIABLES_NAMES if "_ATT" not in name
                     and "__A__" not in name and "SERVER" not in name]),
    PLAUSIBLE.map(lambda value: json.dumps(value) if value is None else str(value)),
    max_size=3,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=st.one_of(st.none(), SECTIONS, PLAUSIBLE_SECTIONS),
       variables=st.one_of(VARIABLES, PLAUSIBLE_VARIABLES),
       overrides=st.one_of(SECTIONS, PLAUSIBLE_SECTIONS))
def test_the_reader_gives_what_the_settings_model_gives_or_declines(file, variables, overrides):
    with tempfile.TemporaryDirectory() as directory:
        config = None
        if file is not None:
            config = Path(directory) / "config.yaml"
            config.write_text(yaml.safe_dump(_plain(file)))
        with mock.patch.dict(os.environ, variables, clear=True):
            read = by_reader(config, overrides, variables)
            event("read" if read is not None else "declined")
            if read is not None:
                model = by_model(config, overrides)
                assert model is not None, "the reader accepted what the model refuses"
                assert shown(read) == shown(model)


@pytest.mark.parametrize(("overrides", "environ"), [
    ({}, {}),
    ({"logging": {"level": "error"}}, {"GITOPS_LIFECYCLE_LOGGING__FORMAT": "json"}),
    ({}, {"GITOPS_LIFECYCLE_RETRY__DEFAULTS__MAXATTEMPTS": "3",
          "GITOPS_LIFECYCLE_RETRY__DEFAULTS__JITTER": "off",
          "GITOPS_LIFECYCLE_RETRY__DEFAULTS__TIMEOUT": "1h30m",
          "GITOPS_LIFECYCLE_RETRY__SERVICES": '{"tcp": {"attemptTimeout": "2s"}}'}),
    ({"retry": {"services": {"database": {"maxAttempts": 7, "timeout": "2m"}}},
      "kubernetes": {"kubeconfig": EXISTING, "context": "kind"}}, {}),
    ({}, {"GITOPS_LIFECYCLE_RETRY__SERVICES__TCP__MAXATTEMPTS": "4",
          "GITOPS_LIFECYCLE_RETRY__SERVICES__tcp__base_delay": "1s",
          "GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__TIMEOUT": "10m"}),
])
def test_the_settings_an_init_container_is_given_are_read_without_the_model(overrides, environ):
    with mock.patch.dict(os.environ, environ, clear=True):
        assert shown(waitsettings.read(None, overrides, environ)) == shown(by_model(None,
                                                                                   overrides))


def test_a_config_file_with_only_what_wait_reads_is_read_without_the_model(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("logging: {format: json}\nretry:\n  defaults: {maxAttempts: 4}\n")
    with mock.patch.dict(os.environ, {}, clear=True):
        assert shown(waitsettings.read(config, {}, {})) == shown(by_model(config, {}))


@pytest.mark.parametrize(("overrides", "environ"), [
    ({"server": {"port": 8080}}, {}),
    ({}, {"GITOPS_LIFECYCLE_CLEANUP__DRYRUN": "true"}),
    ({"retry": {"defaults": {"maxAttempts": 3}}},
     {"GITOPS_LIFECYCLE_RETRY__DEFAULTS__MAXATTEMPTS": "4"}),
    ({"retry": {"services": {"Redis": {"timeout": "1m"}}}},
     {"GITOPS_LIFECYCLE_RETRY__SERVICES__REDIS__MAXATTEMPTS": "4"}),
])
def test_other_settings_and_a_key_given_twice_are_left_to_the_model(overrides, environ):
    with pytest.raises(Unsure):
        waitsettings.read(None, overrides, environ)


def test_the_policy_defaults_are_those_of_retry_defaults():
    assert repr(Policy()) == repr(Policy(**RetryPolicy().model_dump()))
