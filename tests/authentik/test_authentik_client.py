"""The Authentik client against the simulated Authentik: the real contract, faults, the token."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.authentik import (
    Authentik,
    ForbiddenError,
    IncompleteListError,
    RejectedError,
    UnavailableError,
)
from gitops_lifecycle.authentik.client import CircuitOpenedError
from gitops_lifecycle.settings import AuthentikSettings, CircuitBreakerSettings
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

pytestmark = pytest.mark.looptime

BREAKER = CircuitBreakerSettings(failure_threshold=3, recovery_timeout=30)


def client(authentik: SimulatedAuthentik, **settings: Any) -> Authentik:
    values: dict[str, Any] = {"url": authentik.url, "token": authentik.token, **settings}
    return Authentik(AuthentikSettings.model_validate(values), circuit=BREAKER, backoff=0.01)


def requests(name: str, code: str) -> float:
    return REGISTRY.get_sample_value("gitops_authentik_requests_total",
                                     {"endpoint": name, "code": code}) or 0.0


async def test_listing_follows_pages_until_next_is_zero(sim_authentik: SimulatedAuthentik) -> None:
    for index in range(250):
        sim_authentik.create_provider(f"app-{index:03}", f"https://app{index}.example.com")
    async with client(sim_authentik) as api:
        providers = await api.providers()
    assert len({p.pk for p in providers}) == 250
    pages = [r for r in sim_authentik.requests if r.path == "/api/v3/providers/proxy/"]
    assert [r.query["page"] for r in pages] == ["1", "2", "3"]
    assert all(r.query["page_size"] == "100" for r in pages)


async def test_find_by_name_uses_name_iexact(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.create_provider("Grafana", "https://grafana.example.com")
    sim_authentik.create_provider("other", "https://other.example.com")
    async with client(sim_authentik) as api:
        found = await api.provider_named("grafana")
        missing = await api.provider_named("nothing")
    assert found is not None
    assert found.name == "Grafana"
    assert missing is None
    assert sim_authentik.requests[0].query["name__iexact"] == "grafana"


async def test_a_listing_failing_part_way_is_never_returned(
    sim_authentik: SimulatedAuthentik,
) -> None:
    for index in range(150):
        sim_authentik.create_provider(f"app-{index:03}", f"https://app{index}.example.com")
    sim_authentik.faults.fail_all(503, path=r"page=2")
    async with client(sim_authentik) as api:
        with pytest.raises(IncompleteListError, match="stopped at page 2"):
            await api.providers()


async def test_5xx_retried_then_succeeds(sim_authentik: SimulatedAuthentik) -> None:
    before = requests("outposts", "503")
    sim_authentik.faults.fail_next(2, 503)
    async with client(sim_authentik) as api:
        outpost = await api.find_outpost()
    assert outpost is not None
    assert outpost.managed == "goauthentik.io/outposts/embedded"
    assert requests("outposts", "503") == before + 2


async def test_create_is_not_retried(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.faults.fail_next(1, 503, method="POST")
    async with client(sim_authentik) as api:
        flows = await api.flow_pk("default-provider-authorization-implicit-consent")
        with pytest.raises(UnavailableError):
            await api.create_provider({"name": "x", "external_host": "https://x.example.com",
                                       "authorization_flow": flows, "invalidation_flow": flows,
                                       "mode": "forward_single"})
    assert len([r for r in sim_authentik.requests if r.method == "POST"]) == 1


async def test_breaker_opens_while_down_and_closes_after_recovery(
    sim_authentik: SimulatedAuthentik,
) -> None:
    import asyncio

    sim_authentik.faults.down()
    async with client(sim_authentik, attempts=1, timeout=2) as api:
        for _ in range(3):
            with pytest.raises(UnavailableError):
                await api.me()
        assert api.circuit_state == "open"
        assert REGISTRY.get_sample_value("gitops_authentik_circuit_state") == 1
        sent = len(sim_authentik.requests)
        with pytest.raises(CircuitOpenedError):
            await api.me()
        assert len(sim_authentik.requests) == sent, "an open circuit sends nothing"
        sim_authentik.faults.up()
        await asyncio.sleep(31)
        assert (await api.me())["username"] == "gitops-lifecycle"
        assert api.circuit_state == "closed"
        assert REGISTRY.get_sample_value("gitops_authentik_circuit_state") == 0


async def test_400_field_errors_are_surfaced(sim_authentik: SimulatedAuthentik) -> None:
    async with client(sim_authentik) as api:
        flow = await api.flow_pk("default-provider-authorization-implicit-consent")
        with pytest.raises(RejectedError) as caught:
            await api.create_provider({"name": "x", "external_host": "https://x.example.com",
                                       "authorization_flow": flow, "invalidation_flow": flow,
                                       "mode": "proxy"})
    assert caught.value.fields, caught.value
    assert "Internal host cannot be empty" in str(caught.value)


async def test_patch_without_mode_is_refused_before_sending(
    sim_authentik: SimulatedAuthentik,
) -> None:
    async with client(sim_authentik) as api:
        with pytest.raises(ValueError, match="mode"):
            await api.patch_provider(1, {"external_host": "https://x.example.com"})
    assert sim_authentik.requests == []


async def test_rotated_token_file_is_read_again_on_403_and_never_logged(
    sim_authentik: SimulatedAuthentik, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(sim_authentik.token + "\n")
    caplog.set_level(logging.DEBUG)
    async with Authentik(AuthentikSettings(url=sim_authentik.url, token_file=token_file),
                         circuit=BREAKER, backoff=0.01) as api:
        assert (await api.me())["username"] == "gitops-lifecycle"
        new = sim_authentik.add_token()
        sim_authentik.faults.revoke_token(sim_authentik.token)
        # Same size and modification time cannot be relied on: the 403 makes it look again.
        token_file.write_text(new + "\n")
        assert (await api.me())["username"]
        sim_authentik.faults.revoke_token(new)
        with pytest.raises(ForbiddenError, match="403"):
            await api.me()
    printed = capsys.readouterr()
    everything = caplog.text + printed.out + printed.err
    assert sim_authentik.token not in everything
    assert new not in everything
