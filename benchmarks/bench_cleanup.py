"""Cleanup: 10,000 Jobs expiring in the same second, deleted with no rate limit.

Measures, against the in-process simulated cluster on the real clock: the time from the
common expiry to the last deletion, the p99 latency of an aiohttp `/healthz` served by the
same event loop meanwhile, and the API requests per simulated hour at steady state, next to
a polling baseline measured in the same run (LIST Jobs, Pods, Events and ReplicaSets every
`interval`, as the original kubectl + jq loop did).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.verdict import Figure, report
from gitops_lifecycle import logs
from gitops_lifecycle.cleanup import wiring
from gitops_lifecycle.clock import SimClock, format_time
from gitops_lifecycle.daemon import SharedInformers
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import EVENTS, JOBS, PODS, REPLICASETS
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster

HOUR = 3600.0


def _settings(kubeconfig: Path) -> Settings:
    return Settings.model_validate({
        "kubernetes": {"kubeconfig": str(kubeconfig), "qps": 1e6, "burst": 1_000_000,
                       "leaderElection": {"enabled": False}},
        "cleanup": {"rateLimit": {"perSecond": 1e6, "burst": 1_000_000},
                    "blastRadius": {"confirmed": True}},
    })


def _seed(sim: SimulatedCluster, count: int, expires: float) -> None:
    finished = format_time(expires - HOUR)
    for index in range(count):
        sim.create({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"job-{index:05d}", "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {"conditions": [{"type": "Complete", "status": "True",
                                       "lastTransitionTime": finished}],
                       "completionTime": finished, "succeeded": 1},
        })


async def _healthz(latencies: list[float], url: str, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)


async def _serve_healthz() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/healthz", lambda _: web.Response(text="ok"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/healthz"


def _deleted(sim: SimulatedCluster) -> int:
    return sum(1 for r in sim.requests if r.method == "DELETE" and r.status == 200)


async def _baseline_requests(kube: Kube, sim: SimulatedCluster) -> int:
    """One polling cycle: LIST every kind the original looked at, page by page."""
    before = len(sim.requests)
    for resource in (JOBS, PODS, EVENTS, REPLICASETS):
        token = None
        while True:
            page = await kube.list_page(resource, record=Object, continue_token=token)
            token = page.metadata.continue_ or None
            if token is None:
                break
    return len(sim.requests) - before


async def run(count: int) -> dict[str, Any]:
    """Seed, run the controllers, measure; returns the figures."""
    clock = SimClock()
    sim = SimulatedCluster(clock)
    await sim.start()
    expires = clock.now() + 5.0 + count / 5000  # after the informers have synced
    _seed(sim, count, int(expires) + 1.0)
    expires = int(expires) + 1.0
    with tempfile.TemporaryDirectory() as tmp:
        config = _settings(sim.write_kubeconfig(Path(tmp) / "kubeconfig"))
        async with Kube.from_settings(config.kubernetes) as kube:
            informers = SharedInformers(kube=kube, settings=config, clock=clock, health=Health())
            components = wiring.controllers(kube=kube, settings=config, clock=clock,
                                            informers=informers)
            baseline = await _baseline_requests(kube, sim)  # with every Job still there
            tasks = [asyncio.create_task(c.run()) for c in [*informers.made.values(), *components]]
            runner, url = await _serve_healthz()
            stop = asyncio.Event()
            latencies: list[float] = []
            poller = asyncio.create_task(_healthz(latencies, url, stop))
            await clock.sleep_until(expires)
            while _deleted(sim) < count:  # noqa: ASYNC110 - polling the request log is the measurement
                await asyncio.sleep(0.05)
            elapsed = clock.now() - expires
            stop.set()
            await poller
            steady_from = len(sim.requests)
            steady_started = clock.now()
            clock.advance(HOUR)  # one simulated hour of quiet: timers, sweeps, bookmarks
            await asyncio.sleep(2)
            per_hour = (len(sim.requests) - steady_from) * HOUR / (clock.now() - steady_started)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()
    await sim.stop()
    latencies.sort()
    return {
        "jobs": count,
        "seconds_to_delete_all": round(elapsed, 3),
        "healthz_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "healthz_median_ms": round(1000 * statistics.median(latencies), 2),
        "healthz_samples": len(latencies),
        "requests_per_hour_steady": round(per_hour, 1),
        "baseline_requests_per_hour": baseline,
    }


def main(quick: bool) -> int:
    """Print the figures; non-zero when a target is missed."""
    logs.configure(level="warning")
    figures = asyncio.run(run(500 if quick else 10_000))
    for key, value in figures.items():
        print(f"{key}: {value}")
    baseline = figures["baseline_requests_per_hour"]
    return report([
        Figure("/healthz p99 while deleting", figures["healthz_p99_ms"], "ms", at_most=50,
               baseline=f"median {figures['healthz_median_ms']} ms in the same samples"),
        Figure("API requests per hour at steady state", figures["requests_per_hour_steady"],
               "", at_most=baseline, baseline=f"polling every hour: {baseline} requests"),
    ], quick=quick)
