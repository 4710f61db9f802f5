"""Attacks on the data-safety invariants: the guard counts every orphan deletion, and a
provider someone else made is never taken for one whose creation answer we lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, proxyconfig, running, settings
from tests.discovery.test_orphans import orphan, orphan_settings, resync

pytestmark = pytest.mark.looptime


async def test_orphan_deletions_count_against_the_blast_radius_across_sweeps(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    # Two orphans turn up at every resync: each sweep alone is small, together they are
    # far more than the guard allows within its window.
    config = orphan_settings(sim_authentik, maxAge="0s")
    config.cleanup.blast_radius.max_count = 3
    config.cleanup.blast_radius.max_share = 0.1
    async with running(sim, sim_authentik, tmp_path, config) as run:
        for round_ in range(6):
            orphan(sim_authentik, f"a-{round_}")
            orphan(sim_authentik, f"b-{round_}")
            await resync(run, sim)
        deletes = [w for w in run.writes()
                   if w.method == "DELETE" and "providers" in w.path]
        assert len(deletes) <= 3


async def test_hand_made_provider_not_taken_for_our_lost_create(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        await run.until(lambda: run.discovery.controller.view.complete)
        # Made by hand after the listing, so the view does not know it yet.
        sim_authentik.create_provider("grafana", "https://hand.example.com")
        # Our create is refused by a gateway before it reaches Authentik.
        sim_authentik.faults.fail_next(1, 503, method="POST", path=r"providers/proxy")
        sim.create(proxyconfig("grafana"))
        await run.until(lambda: run.phase("grafana") == "Failed")
        assert run.condition("grafana")["reason"] == "NotManaged"
        await asyncio.sleep(5)
        assert sim_authentik.provider("grafana")["external_host"] == "https://hand.example.com"
        assert sim_authentik.application("grafana") is None
        assert [w.method for w in run.writes()] == ["POST", "POST"]  # the two creates
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        await run.until(lambda: run.get("grafana") is None)
        assert sim_authentik.provider("grafana") is not None


async def test_dry_run_finalizer_deletes_nothing_in_authentik(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
    config = settings(sim_authentik, cleanup={"dryRun": True})
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await asyncio.sleep(5)
        before = len(run.writes())
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        await asyncio.sleep(30)
        assert [w for w in run.writes()[before:] if w.method == "DELETE"] == []
