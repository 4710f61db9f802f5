"""A leader that shuts down hands over only once its writes can no longer land.

Two whole daemons (every controller, the Lease, the Event recorder) run in one event loop on
virtual time against one simulated cluster and one simulated Authentik that share a clock, so
that the time a server acted on the old leader's write compares with the new leader's
`acquireTime`. The leader is stopped while one of its writes is being carried out by a slow
server; the standby takes over as soon as the Lease is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitops_lifecycle import daemon
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.leader import LeaderElector
from gitops_lifecycle.manager import Manager
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from gitops_lifecycle.simulation.kubeapi.store import Change
from tests.cleanup.builders import HOUR, job_dict
from tests.discovery.harness import install_crd, proxyconfig

pytestmark = pytest.mark.looptime

LEASE = ("coordination.k8s.io/v1", "Lease", "gitops-lifecycle-management", "gitops-system")


@dataclass
class Replica:
    elector: LeaderElector
    stop: asyncio.Event
    task: asyncio.Task[int]


@asynccontextmanager
async def cluster() -> AsyncIterator[tuple[SimulatedCluster, SimulatedAuthentik]]:
    clock = SimClock()
    async with SimulatedCluster(clock=clock, kubelet=False) as sim, \
            SimulatedAuthentik(clock=clock, validate_schema="off") as authentik:
        sim.ensure_namespaces("gitops-system", "apps")
        install_crd(sim)
        yield sim, authentik


def settings_for(identity: str, kubeconfig: Path, authentik: SimulatedAuthentik) -> Settings:
    return Settings.model_validate({
        "server": {"host": "127.0.0.1", "port": 0},
        "kubernetes": {"kubeconfig": str(kubeconfig), "qps": 1000, "burst": 1000,
                       "leaderElection": {"identity": identity}},
        "authentik": {"url": authentik.url, "token": authentik.token, "clusterName": "test"},
        "cleanup": {"controller": {"policies": {"completedJobs": {"ttl": "1h"}}}},
    })


@asynccontextmanager
async def replica(identity: str, sim: SimulatedCluster, authentik: SimulatedAuthentik,
                  tmp_path: Path) -> AsyncIterator[Replica]:
    kubeconfig = sim.write_kubeconfig(tmp_path / f"kubeconfig-{identity}")
    config = settings_for(identity, kubeconfig, authentik)
    health = Health()
    async with Kube.from_settings(config.kubernetes, clock=sim.clock, component="run") as kube:
        built = daemon.components(config, health, kube=kube, clock=sim.clock)
        elector = next(c for c in built if isinstance(c, LeaderElector))
        manager = Manager(health=health, grace_period=config.grace_period)
        for component in built:
            manager.add(component)
        stop = asyncio.Event()
        task = asyncio.create_task(manager.run(stop))
        try:
            yield Replica(elector, stop, task)
        finally:
            stop.set()
            await task


async def until(check: Any, within: float = 60) -> None:
    async with asyncio.timeout(within):
        while not check():
            await asyncio.sleep(0.01)


@contextmanager
def handover_time(sim: SimulatedCluster, identity: str) -> Iterator[list[float]]:
    """The cluster time at which `identity` takes the Lease, told by the store as it commits."""
    seen: list[float] = []

    def changed(change: Change) -> None:
        holder = (change.obj.get("spec") or {}).get("holderIdentity")
        before = ((change.old or {}).get("spec") or {}).get("holderIdentity")
        if holder == identity and before != identity and not seen:
            seen.append(sim.clock.now())

    unsubscribe = sim.store.subscribe("coordination.k8s.io/leases", changed)
    try:
        yield seen
    finally:
        unsubscribe()


async def test_an_authentik_write_of_the_old_leader_never_lands_after_the_handover(
    tmp_path: Path,
) -> None:
    async with cluster() as (sim, authentik), \
            replica("replica-a", sim, authentik, tmp_path) as a:
        await until(lambda: a.elector.is_leader)
        async with replica("replica-b", sim, authentik, tmp_path) as b:
            await asyncio.sleep(5)  # both caches synced; b waits as the standby
            # Authentik's database is slow: adding the provider to the outpost takes 3 s,
            # and is carried out even if the client gives up on it.
            authentik.faults.slow(3, method="PATCH", path="outposts", completes=True)
            sim.create(proxyconfig("grafana"))
            await until(lambda: any(r.method == "PATCH" for r in authentik.requests))
            with handover_time(sim, "replica-b") as seen:
                a.stop.set()  # SIGTERM while the PATCH is being carried out
                await until(lambda: b.elector.is_leader)
                await asyncio.sleep(10)
            handover = seen[0]
            patches = [r for r in authentik.requests if r.method == "PATCH"]
            assert patches[0].answered is not None, "the slow write was never carried out"
            landed_late = [r for r in authentik.writes()
                           if r.time < handover and (r.answered or 0) > handover]
            assert landed_late == [], (handover, landed_late)


async def test_a_deletion_of_the_old_leader_never_lands_after_the_handover(
    tmp_path: Path,
) -> None:
    async with cluster() as (sim, authentik), \
            replica("replica-a", sim, authentik, tmp_path) as a:
        await until(lambda: a.elector.is_leader)
        async with replica("replica-b", sim, authentik, tmp_path) as b:
            await asyncio.sleep(5)
            # The API server holds every Job DELETE for 3 s before acting on it.
            sim.faults.inject(method="DELETE", path="/jobs/", latency=3)
            sim.create(job_dict("old", finished=sim.clock.now() - 2 * HOUR))
            deleted: list[float] = []
            sim.store.subscribe("batch/jobs", lambda change: deleted.append(sim.clock.now())
                                if change.type == "DELETED" else None)

            def sent() -> list[Any]:
                return [r for r in sim.requests if r.verb == "delete" and "/jobs/" in r.path]

            await until(sent)
            (old_leaders,) = sent()  # the standby does not delete
            with handover_time(sim, "replica-b") as seen:
                a.stop.set()  # SIGTERM while the API server holds the DELETE
                await until(lambda: b.elector.is_leader)
                await asyncio.sleep(10)
            handover = seen[0]
            assert old_leaders.time <= handover
            # Whatever the old leader's DELETE did, it did before the new leader took over.
            if old_leaders.status is not None:
                assert all(at <= handover for at in deleted), (handover, deleted, sent())
            assert len(deleted) <= 1
