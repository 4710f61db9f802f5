"""Two replicas given the same configured identity (one ConfigMap serves both) never lead at
once: a Lease is a process's own only if that process wrote its current version."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.kube.leader import LeaderElector
from gitops_lifecycle.settings import LeaderElectionSettings
from tests.kube.test_leader import cluster, lease

pytestmark = pytest.mark.looptime


async def test_two_replicas_configured_with_the_same_identity_never_lead_at_once(
    tmp_path: Path,
) -> None:
    election = LeaderElectionSettings(identity="gitops-lifecycle")
    async with cluster(tmp_path) as (sim, kube):
        assert isinstance(sim.clock, SimClock)
        electors = [LeaderElector(kube=kube, settings=election, clock=sim.clock)
                    for _ in range(2)]
        tasks = [asyncio.create_task(e.run()) for e in electors]
        try:
            leading: list[int] = []
            for _ in range(240):
                await asyncio.sleep(0.5)
                leading.append(sum(bool(e.is_leader) for e in electors))
            assert lease(sim)["holderIdentity"] == "gitops-lifecycle"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert max(leading) == 1
    assert leading[-100:] == [1] * 100  # one of them keeps leading
