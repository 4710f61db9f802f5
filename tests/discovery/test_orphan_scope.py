"""The orphan sweep sees what the informers see, and never more than it can confirm.

With `kubernetes.namespaces.include` the ProxyConfig cache covers those namespaces only (a
Role in each suffices). The live check before a deletion lists ProxyConfigs in that same
scope, and only applications whose marker names a ProxyConfig in scope are candidates at all:
one made for a namespace this installation does not watch is never judged orphaned, whether or
not its ProxyConfig still exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import proxyconfig, running, settings
from tests.discovery.test_orphans import resync

pytestmark = pytest.mark.looptime


def scoped(authentik: SimulatedAuthentik, **kubernetes: Any) -> Settings:
    return settings(
        authentik, serviceDiscovery={"resyncInterval": "5m"},
        kubernetes={"namespaces": {"include": ["apps"]}, **kubernetes},
        cleanup={"controller": {"policies": {"orphanedProviders": {"maxAge": "0s"}}}},
    )


def made_for(authentik: SimulatedAuthentik, name: str, key: str) -> None:
    """A provider and application this cluster made for the ProxyConfig `key`."""
    provider = authentik.create_provider(name, f"https://{name}.example.com")
    authentik.create_application(name, provider=provider["pk"],
                                 meta_publisher=f"gitops-lifecycle:test:{key}")


async def test_orphans_collected_when_proxyconfigs_may_be_listed_only_per_namespace(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    made_for(sim_authentik, "old-app", "apps/old-app")
    # A Role per watched namespace: no cluster-wide LIST of ProxyConfigs.
    sim.faults.inject(method="GET", path=r"^/apis/gitops\.io/v1/proxyconfigs", status=403)
    async with running(sim, sim_authentik, tmp_path, scoped(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        for _ in range(2):
            await resync(run, sim)
        assert sim_authentik.provider("old-app") is None
        assert sim_authentik.provider("grafana") is not None


async def test_orphans_made_for_namespaces_out_of_scope_are_never_candidates(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    made_for(sim_authentik, "old-app", "apps/old-app")
    made_for(sim_authentik, "theirs-gone", "other/theirs-gone")
    made_for(sim_authentik, "theirs", "other/theirs")
    sim.create(proxyconfig("theirs", namespace="other"))
    async with running(sim, sim_authentik, tmp_path, scoped(sim_authentik)) as run:
        for _ in range(2):
            await resync(run, sim)
        assert sim_authentik.provider("old-app") is None  # the sweep ran
        assert sim_authentik.provider("theirs-gone") is not None
        assert sim_authentik.provider("theirs") is not None


async def test_orphan_whose_proxyconfig_the_label_selector_hides_is_kept(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    made_for(sim_authentik, "old-app", "apps/old-app")
    made_for(sim_authentik, "hidden", "apps/hidden")
    sim.create(proxyconfig("hidden"))  # no `team` label: not in the informer's cache
    config = scoped(sim_authentik, labelSelector="team=a")
    async with running(sim, sim_authentik, tmp_path, config) as run:
        for _ in range(2):
            await resync(run, sim)
        assert run.informer.get("apps/hidden") is None
        assert sim_authentik.provider("old-app") is None
        assert sim_authentik.provider("hidden") is not None
