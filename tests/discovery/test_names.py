"""Names Authentik stores differently from how they were sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import proxyconfig, running, settings

pytestmark = pytest.mark.looptime


async def test_provider_name_with_surrounding_spaces_fails_instead_of_drifting(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    # Authentik's serializers trim text: " grafana " would be stored as "grafana", and every
    # later look for " grafana " would find nothing and try to create it again.
    config = settings(sim_authentik, serviceDiscovery={"resyncInterval": "1m"})
    async with running(sim, sim_authentik, tmp_path, config) as run:
        sim.create(proxyconfig("grafana", config={"providerName": " grafana "}))
        await run.until(lambda: run.phase("grafana") in {"Ready", "Failed"})
        await asyncio.sleep(150)  # two resyncs
        assert run.phase("grafana") == "Failed", run.status("grafana")
        assert run.condition("grafana")["reason"] == "InvalidSpec"
        assert "providerName" in run.condition("grafana")["message"]
        assert sim_authentik.providers() == []
