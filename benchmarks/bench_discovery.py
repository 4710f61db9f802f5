"""Service discovery: 1,000 ProxyConfigs applied at once against the simulated Authentik.

The simulated Authentik runs in a process of its own (as the real one runs elsewhere), so
that `/healthz` measures the daemon's event loop and not the simulator's work; the simulated
cluster is in-process, as in the cleanup benchmark. Requests are counted as the daemon's
client sends them.

Measures, on the real clock: the time until every ProxyConfig is Ready, the Authentik
requests per ProxyConfig at creation (aim: at most 4), the Authentik requests in one resync
interval at steady state (aim: the listing pages, about N/100 per kind plus a constant, never
a GET per object, and no write), and the p99 latency of an aiohttp `/healthz` served by the
daemon's event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.bench_cleanup import _healthz, _serve_healthz
from benchmarks.verdict import Figure, report
from gitops_lifecycle import crds, logs
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.discovery.records import ProxyConfig
from gitops_lifecycle.discovery.wiring import ServiceDiscovery
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.resources import PROXYCONFIGS
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster

RESYNC = 300.0
TOKEN = "bench"
AUTHENTIK = f"""
import asyncio, sys
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
async def main():
    async with SimulatedAuthentik(clock=SimClock(), token={TOKEN!r}, validate_schema="off") as a:
        print(a.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


class CountingAuthentik(Authentik):
    """The daemon's client, noting each request it sends."""

    sent: list[tuple[str, str]]

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.sent.append((method, path))
        return await super().request(method, path, **kwargs)


def _settings(kubeconfig: Path, url: str) -> Settings:
    return Settings.model_validate({
        "kubernetes": {"kubeconfig": str(kubeconfig), "qps": 1e6, "burst": 1_000_000,
                       "leaderElection": {"enabled": False}},
        "authentik": {"url": url, "token": TOKEN, "clusterName": "bench"},
        "serviceDiscovery": {"resyncInterval": RESYNC, "workers": 16},
    })


def _proxyconfig(index: int) -> dict[str, Any]:
    name = f"app-{index:04d}"
    return {"apiVersion": "gitops.io/v1", "kind": "ProxyConfig",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"serviceName": name, "externalHost": f"https://{name}.example.com",
                     "authentikConfig": {"providerName": name}}}


def _ready(informer: Informer[ProxyConfig]) -> int:
    """Ready as the API says it (the status the watch brought back), read from the cache."""
    return sum(1 for pc in informer.values() if pc.status.get("phase") == "Ready")


async def _measure(sim: SimulatedCluster, url: str, count: int) -> dict[str, Any]:
    clock = sim.clock
    assert isinstance(clock, SimClock)
    with tempfile.TemporaryDirectory() as tmp:
        config = _settings(sim.write_kubeconfig(Path(tmp) / "kubeconfig"), url)
        client = CountingAuthentik(config.authentik, circuit=config.retry.circuit_breaker)
        client.sent = []
        async with Kube.from_settings(config.kubernetes) as kube:
            informer: Informer[ProxyConfig] = Informer(kube=kube, resource=PROXYCONFIGS,
                                                       record=ProxyConfig, clock=clock)
            discovery = ServiceDiscovery(kube=kube, settings=config, clock=clock, health=None,
                                         proxyconfigs=informer, client=client)
            tasks = [asyncio.create_task(informer.run()), asyncio.create_task(discovery.run())]
            await discovery.controller.refreshed.wait()  # listed once before anything applied
            runner, healthz = await _serve_healthz()
            stop = asyncio.Event()
            latencies: list[float] = []
            poller = asyncio.create_task(_healthz(latencies, healthz, stop))
            before = len(client.sent)
            started = time.perf_counter()
            for first in range(0, count, 25):  # as an apply sends them: object by object
                sim.seed(_proxyconfig(index) for index in range(first, min(first + 25, count)))
                await asyncio.sleep(0)
            while _ready(informer) < count:  # noqa: ASYNC110 - polling the cache is the measurement
                await asyncio.sleep(0.5)
            elapsed = time.perf_counter() - started
            stop.set()
            await poller
            creation = client.sent[before:]
            await asyncio.sleep(1)
            steady_from = len(client.sent)
            listed = discovery.controller.refreshed
            clock.advance(RESYNC)
            await listed.wait()
            await asyncio.sleep(2)  # the reconciles that follow the listing
            resync = client.sent[steady_from:]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()
    latencies.sort()
    kinds = Counter(f"{method} {path.split('/')[3]}" for method, path in creation)
    return {
        "proxyconfigs": count,
        "seconds_until_all_ready": round(elapsed, 2),
        "authentik_requests_per_proxyconfig_at_creation": round(len(creation) / count, 2),
        "creation_requests_by_kind": dict(kinds),
        "authentik_requests_per_resync": len(resync),
        "authentik_writes_per_resync": sum(1 for method, _ in resync if method != "GET"),
        "healthz_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "healthz_median_ms": round(1000 * statistics.median(latencies), 2),
        "healthz_samples": len(latencies),
    }


async def run(count: int) -> dict[str, Any]:
    """Apply `count` ProxyConfigs at once, wait for Ready, resync once; returns the figures."""
    authentik = await asyncio.create_subprocess_exec(
        sys.executable, "-c", AUTHENTIK, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)
    assert authentik.stdout is not None
    assert authentik.stdin is not None
    sim = SimulatedCluster(SimClock())
    await sim.start()
    try:
        url = (await asyncio.wait_for(authentik.stdout.readline(), 60)).decode().strip()
        with contextlib.suppress(Exception):  # built in where CRDs are not served from files
            sim.create(crds.load())
        return await _measure(sim, url, count)
    finally:
        await sim.stop()
        authentik.stdin.close()
        await asyncio.wait_for(authentik.wait(), 30)


def main(quick: bool) -> int:
    """Print the figures; non-zero when an aim is missed."""
    logs.configure(level="warning")
    count = 100 if quick else 1_000
    figures = asyncio.run(run(count))
    for key, value in figures.items():
        print(f"{key}: {value}")
    pages = 2 * -(-count // 100) + 1  # providers and applications, plus the outposts
    return report([
        Figure("Authentik requests per ProxyConfig at creation",
               figures["authentik_requests_per_proxyconfig_at_creation"], "", at_most=4,
               digits=2, baseline="none measured"),
        Figure("Authentik requests per resync", figures["authentik_requests_per_resync"], "",
               at_most=pages + 5, digits=0,
               baseline=f"none measured ({pages} listing pages)"),
        Figure("Authentik writes per resync", figures["authentik_writes_per_resync"], "",
               at_most=0, digits=0, baseline="none measured (nothing changed)"),
        Figure("/healthz p99 during creation", figures["healthz_p99_ms"], "ms", at_most=50,
               baseline=f"median {figures['healthz_median_ms']} ms in the same samples"),
    ], quick=quick)
