"""Every deletion service discovery makes passes the blast-radius guard.

The finalizer of a deleted ProxyConfig and the Service controller (a Service unlabelled or
gone) delete as the orphan sweep does: a mass deletion — a CRD removed, a Kustomization pruned,
a label selector gone wrong — stops after the guard's limits, the rest waits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gitops_lifecycle.discovery.records import FINALIZER
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, Running, proxyconfig, running, settings

pytestmark = pytest.mark.looptime

NAMES = ("alpha", "beta", "gamma", "delta")


def guarded(authentik: SimulatedAuthentik) -> Settings:
    """At most one deletion per hour of four objects (both limits: more than 1 and 10%)."""
    return settings(authentik, cleanup={"blastRadius": {"maxCount": 1, "maxShare": 0.1}})


def labelled_service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "apps",
                     "labels": {"authentik.io/proxy": "enabled"},
                     "annotations": {"authentik.io/external-host": f"https://{name}.example.com"}},
        "spec": {"ports": [{"port": 80}]},
    }


def deletes(run: Running, path: str) -> list[Any]:
    return [r for r in run.sim.requests if r.method == "DELETE" and path in r.path]


async def test_finalizer_deletions_stop_at_the_blast_radius_guard(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, guarded(sim_authentik)) as run:
        for name in NAMES:
            sim.create(proxyconfig(name))
        await run.ready(*NAMES)
        for name in NAMES:
            sim.delete(PC, "ProxyConfig", name, namespace="apps")
        await run.until(lambda: sum(run.get(n) is None for n in NAMES) == 1)
        await asyncio.sleep(120)
        gone = [n for n in NAMES if run.get(n) is None]
        assert len(gone) == 1
        assert sorted(p["name"] for p in sim_authentik.providers()
                      if p["name"] in NAMES) == sorted(n for n in NAMES if n not in gone)
        waiting = [n for n in NAMES if n not in gone]
        for name in waiting:  # still held by the finalizer: nothing is orphaned
            assert run.get(name)["metadata"]["finalizers"] == [FINALIZER]
            assert run.condition(name)["reason"] == "BlastRadiusGuard"
        assert sum(1 for w in run.writes() if w.method == "DELETE") == 2  # provider + app


async def test_service_owned_proxyconfig_deletions_stop_at_the_blast_radius_guard(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, guarded(sim_authentik)) as run:
        for name in NAMES:
            sim.create(labelled_service(name))
        await run.ready(*NAMES)
        for name in NAMES:
            sim.patch("v1", "Service", name, namespace="apps",
                      patch={"metadata": {"labels": {"authentik.io/proxy": None}}})
        await run.until(lambda: deletes(run, "/proxyconfigs/"))
        await asyncio.sleep(120)
        assert len(deletes(run, "/proxyconfigs/")) == 1
        kept = [n for n in NAMES if "deletionTimestamp" not in run.get(n)["metadata"]]
        assert len(kept) == 3
