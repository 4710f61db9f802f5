"""Orphaned providers: only ours, only on complete knowledge, only after maxAge."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.discovery.orphans import STATE_CONFIGMAP
from gitops_lifecycle.kube.leader import Term
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, Running, proxyconfig, running, settings

pytestmark = pytest.mark.looptime

RESYNC = 300.0


def orphan_settings(authentik: SimulatedAuthentik, **policy: Any) -> Settings:
    return settings(
        authentik, serviceDiscovery={"resyncInterval": "5m"},
        cleanup={"controller": {"policies": {"orphanedProviders": {"maxAge": "1h", **policy}}}},
    )


def orphan(authentik: SimulatedAuthentik, name: str, *, cluster: str = "test") -> None:
    """A provider and application we made for a ProxyConfig that no longer exists."""
    provider = authentik.create_provider(name, f"https://{name}.example.com")
    authentik.create_application(name, provider=provider["pk"],
                                 meta_publisher=f"gitops-lifecycle:{cluster}:apps/{name}-gone")


def cleaned() -> float:
    return REGISTRY.get_sample_value("gitops_cleanup_providers_cleaned_total") or 0.0


async def resync(run: Running, sim: SimulatedCluster) -> None:
    """Advance one resync interval and wait for that listing and its sweep."""
    listed = run.discovery.controller.refreshed
    sim.clock.advance(RESYNC)
    await listed.wait()
    await asyncio.sleep(1)


async def kept_then_deleted(run: Running, sim: SimulatedCluster, authentik: SimulatedAuthentik,
                            *, resyncs: int) -> None:
    """The orphan "old-app" outlasts `resyncs` more resyncs and is deleted after the next one."""
    for _ in range(resyncs):
        await resync(run, sim)
    assert authentik.provider("old-app") is not None
    await resync(run, sim)
    await run.until(lambda: authentik.provider("old-app") is None)


def first_seen(sim: SimulatedCluster) -> dict[str, Any]:
    found = sim.get("v1", "ConfigMap", STATE_CONFIGMAP, "gitops-system")
    return {k: json.loads(v) for k, v in ((found or {}).get("data") or {}).items()}


async def test_orphan_deleted_only_after_max_age_across_a_restart(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    sim_authentik.create_provider("hand-made", "https://hand.example.com")
    sim_authentik.create_application("hand-made", provider="hand-made")
    orphan(sim_authentik, "other-cluster", cluster="prod")
    before = cleaned()
    config = orphan_settings(sim_authentik)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        await run.until(lambda: first_seen(sim))
        recorded = first_seen(sim)
        assert [entry["provider"] for entry in recorded.values()] == ["old-app"]
        for _ in range(6):  # 30 minutes
            await resync(run, sim)
        assert sim_authentik.provider("old-app") is not None
    # A new daemon: the first-seen time comes from the ConfigMap, not from its start.
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await run.until(lambda: run.discovery.orphans.last == "nothing_due")
        carried = first_seen(sim)
        assert [e["firstSeen"] for e in carried.values()] == \
            [e["firstSeen"] for e in recorded.values()]
        assert [e["observedSeconds"] // 60 for e in carried.values()] == [30]
        await kept_then_deleted(run, sim, sim_authentik, resyncs=5)  # 55 minutes in all, then 60
        assert sim_authentik.application("old-app") is None
        assert cleaned() == before + 1
        assert first_seen(sim) == {}
    assert sim_authentik.provider("hand-made") is not None
    assert sim_authentik.provider("other-cluster") is not None
    assert sim_authentik.provider("grafana") is not None


async def test_no_deletion_while_authentik_listing_fails_part_way(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    for index in range(120):
        orphan(sim_authentik, f"app-{index}")
    sim_authentik.faults.fail_all(503, path=r"applications/.*page=2")
    config = orphan_settings(sim_authentik, maxAge="0s", maxPerSweep=500)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        for _ in range(3):
            await resync(run, sim)
        assert run.discovery.orphans.last == "authentik_listing_incomplete"
        assert not [w for w in run.writes() if w.method == "DELETE"]
        sim_authentik.faults.clear()
        await asyncio.sleep(31)  # the breaker's recovery timeout
        await resync(run, sim)
        await run.until(lambda: run.discovery.orphans.last == "swept")
        assert len([w for w in run.writes() if w.method == "DELETE"]) == 2 * 120


async def test_no_deletion_while_proxyconfigs_cannot_be_listed(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    rule = sim.faults.inject(method="GET", path=r"/proxyconfigs", status=500)
    config = orphan_settings(sim_authentik, maxAge="0s")
    async with running(sim, sim_authentik, tmp_path, config) as run:
        for _ in range(3):
            sim.clock.advance(RESYNC)
            await asyncio.sleep(RESYNC)
        assert not run.informer.has_synced.is_set()
        assert run.discovery.orphans.last == "not run"
        assert not [w for w in run.writes() if w.method == "DELETE"]
        assert first_seen(sim) == {}
        sim.faults.rules.remove(rule)
        await run.until(run.informer.has_synced.is_set)
        await resync(run, sim)
        await run.until(lambda: sim_authentik.provider("old-app") is None)


async def test_live_check_spares_an_orphan_whose_proxyconfig_the_cache_missed(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    config = orphan_settings(sim_authentik, maxAge="0s")
    async with running(sim, sim_authentik, tmp_path, config) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        # The cache loses the ProxyConfig (a stale cache), the API still has it.
        run.informer._remove("apps", "grafana")
        await resync(run, sim)
        assert sim_authentik.provider("grafana") is not None
        assert not [w for w in run.writes() if w.method == "DELETE"]


async def test_at_most_max_per_sweep(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    for index in range(5):
        orphan(sim_authentik, f"app-{index}")
    config = orphan_settings(sim_authentik, maxAge="0s", maxPerSweep=2)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await run.until(lambda: len(sim_authentik.providers()) == 3)
        await resync(run, sim)
        assert len(sim_authentik.providers()) == 1


async def test_dry_run_deletes_nothing_and_writes_no_state(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    config = orphan_settings(sim_authentik, maxAge="0s", dryRun=True)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        for _ in range(2):
            await resync(run, sim)
        assert sim_authentik.provider("old-app") is not None
        assert first_seen(sim) == {}
        assert run.writes() == []


async def test_finalizer_removed_by_hand_leaves_an_orphan_that_is_collected(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    config = orphan_settings(sim_authentik, maxAge="10m")
    async with running(sim, sim_authentik, tmp_path, config) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        sim.patch(PC, "ProxyConfig", "grafana", namespace="apps",
                  patch={"metadata": {"finalizers": []}})
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        await run.until(lambda: run.get("grafana") is None)
        await resync(run, sim)
        assert sim_authentik.provider("grafana") is not None
        for _ in range(3):
            await resync(run, sim)
        await run.until(lambda: sim_authentik.provider("grafana") is None)


async def test_no_deletion_outside_the_leaders_term(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    term = Term()  # not leading
    config = orphan_settings(sim_authentik, maxAge="0s")
    async with running(sim, sim_authentik, tmp_path, config, term=term) as run:
        for _ in range(2):
            await resync(run, sim)
        assert sim_authentik.provider("old-app") is not None
        assert not [w for w in run.writes() if w.method == "DELETE"]
        term.until = math.inf
        await resync(run, sim)
        await run.until(lambda: sim_authentik.provider("old-app") is None)
