"""A changed `spec.authentikConfig.providerName` renames our provider in place.

Same pk, same application, same outpost membership: logins in progress go on, and no provider
is left behind that nothing references (no application, so never an orphan candidate either).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, proxyconfig, running, settings

pytestmark = pytest.mark.looptime


def rename(sim: SimulatedCluster, name: str, provider: str) -> None:
    sim.patch(PC, "ProxyConfig", name, namespace="apps",
              patch={"spec": {"authentikConfig": {"providerName": provider}}})


async def test_a_changed_provider_name_renames_the_provider_in_place(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        pk = sim_authentik.provider("grafana")["pk"]
        writes = len(run.writes())
        rename(sim, "grafana", "grafana-sso")
        await run.until(lambda: sim_authentik.provider("grafana-sso") is not None)
        await run.until(lambda: run.status("grafana").get("observedGeneration") == 2)
        assert run.phase("grafana") == "Ready"
        assert sim_authentik.provider("grafana-sso")["pk"] == pk
        assert sim_authentik.provider("grafana") is None
        assert [p["name"] for p in sim_authentik.providers()] == ["grafana-sso"]
        assert sim_authentik.application("grafana")["provider"] == pk
        assert sim_authentik.outpost()["providers"] == [pk]
        assert run.status("grafana")["authentikProviderId"] == pk
        renames = [w for w in run.writes()[writes:] if w.method == "PATCH"
                   and "/providers/proxy/" in w.path]
        assert [w.body["name"] for w in renames] == ["grafana-sso"]
        assert not [w for w in run.writes()[writes:] if w.method in {"POST", "DELETE"}
                    and "/providers/" in w.path]
        assert "ProviderRenamed" in run.events.reasons("grafana")


async def test_a_provider_name_taken_by_another_provider_fails_and_changes_nothing(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    sim_authentik.create_provider("taken", "https://taken.example.com")
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        pk = sim_authentik.provider("grafana")["pk"]
        writes = len(run.writes())
        rename(sim, "grafana", "taken")
        await run.until(lambda: run.phase("grafana") == "Failed")
        assert "not managed by gitops-lifecycle" in run.condition("grafana")["message"]
        assert run.writes()[writes:] == []
        assert sim_authentik.provider("grafana")["pk"] == pk
        assert sim_authentik.outpost()["providers"] == [pk]
