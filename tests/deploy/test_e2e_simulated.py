"""The end-to-end scenario of deploy/kind, on the simulated cluster: the chart applied with
kubectl, the daemon configured by the rendered Deployment's environment, the same objects and
the same assertions."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest

from gitops_lifecycle.clock import SimClock, format_time
from gitops_lifecycle.simulation import SimulatedCluster
from tests.deploy.chart import NAMESPACE, render
from tests.deploy.e2e import (
    E2E_EXPECTED,
    E2E_NAMESPACE,
    E2E_VALUES,
    e2e_metrics_ok,
    e2e_objects,
    e2e_outcome,
    environment,
    helm_apply,
    kubectl,
    needs_kubectl,
    running,
    settings_from,
)
from tests.retry.services import free_port

pytestmark = needs_kubectl


async def _scrape(port: int) -> str:
    def fetch() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return str(r.read().decode())
        except OSError:  # not listening yet
            return ""
    return await asyncio.to_thread(fetch)


async def test_the_kind_scenario_on_the_simulated_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimClock(speed=60)  # the 30 s TTLs pass in half a second
    sim = SimulatedCluster(clock=clock, kubelet=False)
    await sim.start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        await kubectl(kubeconfig, "create", "namespace", NAMESPACE)
        rendered = render(E2E_VALUES)
        await helm_apply(kubeconfig, rendered)
        # The workloads as the cluster's controllers leave them: finished a minute ago.
        for obj in e2e_objects(format_time(clock.now() - 60)):
            sim.create(obj)
        sim.delete("v1", "Pod", "held", namespace=E2E_NAMESPACE)
        port = free_port()
        settings = settings_from(environment(rendered, sim), monkeypatch,
                                 kubeconfig=kubeconfig, port=port)
        before = generate_latest(REGISTRY).decode()
        async with running(settings, clock):
            for _ in range(100):
                scrape = await _scrape(port)
                if e2e_metrics_ok(before, scrape) and \
                        await e2e_outcome(kubeconfig) == E2E_EXPECTED:
                    break
                await asyncio.sleep(0.2)
            assert await e2e_outcome(kubeconfig) == E2E_EXPECTED
            assert e2e_metrics_ok(before, await _scrape(port)), scrape
    finally:
        await sim.stop()
