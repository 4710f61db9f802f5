"""The daemon over 200 included namespaces: four informers, few connections, deletions on time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gitops_lifecycle import daemon
from gitops_lifecycle.clock import SimClock, format_time
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.manager import Manager
from gitops_lifecycle.server import ObservabilityServer
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

START = 1_700_000_000.0
HOUR = 3600.0
NAMESPACES = [f"team-{i:03}" for i in range(200)]


def finished_job(name: str, namespace: str, *, finished: float) -> dict[str, Any]:
    stamp = format_time(finished)
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": stamp},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}},
        "status": {"succeeded": 1, "completionTime": stamp, "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": stamp}]},
    }


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def test_four_informers_over_200_namespaces_sync_and_delete_on_time(
        tmp_path: Path) -> None:
    clock = SimClock(start=START)
    async with SimulatedCluster(clock=clock) as sim:
        sim.ensure_namespaces("gitops-system", *NAMESPACES, "elsewhere")
        sim.create(finished_job("nightly", "team-199", finished=START - HOUR + 600))
        sim.create(finished_job("nightly", "elsewhere", finished=START - HOUR - 600))
        config = Settings.model_validate({
            "kubernetes": {"kubeconfig": str(sim.write_kubeconfig(tmp_path / "kubeconfig")),
                           "leaderElection": {"identity": "only"},
                           "namespaces": {"include": NAMESPACES}},
            "server": {"host": "127.0.0.1", "port": 0},
        })
        health = Health()
        async with Kube.from_settings(config.kubernetes, clock=clock) as kube:
            built = daemon.components(config, health, kube=kube, clock=clock)
            manager = Manager(health=health, grace_period=5)
            for component in built:
                manager.add(component)
            stop = asyncio.Event()
            task = asyncio.create_task(manager.run(stop))
            try:
                informers = [c for c in built if isinstance(c, Informer)]
                assert len(informers) == 4
                async with asyncio.timeout(60):
                    await asyncio.gather(*(i.has_synced.wait() for i in informers))
                    while not all(i.watching for i in informers):
                        await asyncio.sleep(0.1)
                assert all(i.namespaces_watched == [None] for i in informers)
                [server] = [c for c in built if isinstance(c, ObservabilityServer)]
                assert server.port is not None
                status, body = await get(server.port, "/readyz")
                assert status == 200, body
                assert kube.connections_in_use()["watches"] == 4
                _, metrics = await get(server.port, "/metrics")
                assert 'gitops_kubernetes_connections_in_use{pool="watches"}' in metrics

                await asyncio.sleep(START + 600 - clock.now() + 2)
                deletes = [r for r in sim.requests
                           if r.method == "DELETE" and "/jobs/" in r.path]
                assert [r.path for r in deletes] == [
                    "/apis/batch/v1/namespaces/team-199/jobs/nightly"]
                assert START + 600 <= deletes[0].time <= START + 600 + 1
                assert sim.get("batch/v1", "Job", "nightly", "elsewhere") is not None
                status, body = await get(server.port, "/readyz")
                assert status == 200, body
            finally:
                stop.set()
                assert await task == 0
