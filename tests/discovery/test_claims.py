"""Two ProxyConfigs asking for one provider name: exactly one of them gets it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, proxyconfig, running, settings

pytestmark = pytest.mark.looptime


async def test_earlier_proxyconfig_renamed_onto_a_held_name_leaves_the_holder_ready(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("older", config={"providerName": "older"}))
        await run.ready("older")
        await asyncio.sleep(10)
        sim.create(proxyconfig("newer", config={"providerName": "shared"}))
        await run.ready("newer")
        # The earlier ProxyConfig now asks for the name the later one holds.
        sim.patch(PC, "ProxyConfig", "older", namespace="apps",
                  patch={"spec": {"authentikConfig": {"providerName": "shared"}}})
        await run.until(lambda: run.phase("older") == "Failed")
        # Both looked at again (as every resync does): the holder keeps its provider.
        run.discovery.controller.queue.add("apps/newer")
        run.discovery.controller.queue.add("apps/older")
        await asyncio.sleep(5)
        await run.until(lambda: run.condition("older").get("reason") == "Conflict")
        assert run.phase("newer") == "Ready", run.status("newer")
        assert "apps/newer" in run.condition("older")["message"]


async def test_moving_outposts_leaves_a_membership_a_person_made(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    sim_authentik.create_provider("hand", "https://hand.example.com")
    sim_authentik.create_outpost("edge")
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        pk = sim_authentik.provider("grafana")["pk"]
        # A person also serves the provider from outpost "edge", beside one of their own.
        sim_authentik.set_outpost_providers(["hand", pk], outpost="edge")
        # The ProxyConfig moves to "edge" (already there: nothing added), then back.
        sim.patch(PC, "ProxyConfig", "grafana", namespace="apps",
                  patch={"spec": {"authentikConfig": {"outpost": "edge"}}})
        await run.until(lambda: (run.status("grafana").get("outpost") or {}).get("name")
                        == "edge" and run.phase("grafana") == "Ready")
        sim.patch(PC, "ProxyConfig", "grafana", namespace="apps",
                  patch={"spec": {"authentikConfig": {"outpost": ""}}})
        await run.until(lambda: (run.status("grafana").get("outpost") or {}).get("name")
                        != "edge" and run.phase("grafana") == "Ready")
        assert pk in sim_authentik.outpost()["providers"]
        hand = sim_authentik.provider("hand")["pk"]
        assert sorted(sim_authentik.outpost("edge")["providers"]) == sorted([hand, pk])


async def test_last_provider_of_an_outpost_can_move_away_and_be_deleted(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    # Authentik refuses to leave an outpost other than the embedded one without providers.
    sim_authentik.create_outpost("edge")
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana", config={"outpost": "edge"}))
        sim.create(proxyconfig("loki", config={"outpost": "edge"}))
        await run.ready("grafana", "loki")
        loki = sim_authentik.provider("loki")["pk"]
        sim.patch(PC, "ProxyConfig", "grafana", namespace="apps",
                  patch={"spec": {"authentikConfig": {"outpost": ""}}})
        await run.until(lambda: (run.status("grafana").get("outpost") or {}).get("name")
                        != "edge")
        await run.ready("grafana")
        assert sim_authentik.provider("grafana")["pk"] in sim_authentik.outpost()["providers"]
        assert sim_authentik.outpost("edge")["providers"] == [loki]
        sim.delete(PC, "ProxyConfig", "loki", namespace="apps")
        await run.until(lambda: run.get("loki") is None)
        assert sim_authentik.provider("loki") is None
