"""`gitops-lifecycle authentik check`: what the runbook's connectivity step prints."""

from __future__ import annotations

import pytest

from gitops_lifecycle.authentik.check import check
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik


def _settings(authentik: SimulatedAuthentik, **values: str) -> Settings:
    return Settings.model_validate(
        {"authentik": {"url": authentik.url, "token": authentik.token, **values}})


async def test_check_passes_and_never_prints_the_token(sim_authentik: SimulatedAuthentik) -> None:
    said: list[str] = []
    assert await check(_settings(sim_authentik), said.append) == 0
    text = "\n".join(said)
    assert sim_authentik.token not in text
    assert "accepted for user 'gitops-lifecycle'" in text
    assert "2026.8.5 (supported)" in text
    assert "default-provider-authorization-implicit-consent →" in text
    assert "authentik Embedded Outpost" in text
    assert said[-1] == "all checks passed"


@pytest.mark.parametrize(("values", "failure"), [
    ({"token": "wrong"}, "token"),
    ({"outpost": "missing"}, "outpost"),
    ({"authorizationFlow": "nope"}, "authorization flow"),
])
async def test_check_fails_and_says_which(sim_authentik: SimulatedAuthentik,
                                          values: dict[str, str], failure: str) -> None:
    said: list[str] = []
    assert await check(_settings(sim_authentik, **values), said.append) == 1
    assert any(line.startswith(failure) and "FAIL" in line for line in said), said


async def test_old_version_is_refused() -> None:
    async with SimulatedAuthentik(version="2024.6.3", validate_schema="off") as old:
        said: list[str] = []
        assert await check(_settings(old), said.append) == 1
    assert any("older than the oldest supported release 2024.10" in line for line in said)
