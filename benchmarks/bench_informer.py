"""Informer sync of 100,000 Jobs + 100,000 Pods, next to kubernetes-asyncio's typed LIST.

The simulated cluster runs in its own process (its memory is not counted) and a third process
polls the daemon's `/healthz` every 10 ms during the sync. Figures: objects/s of our informers
(raw JSON into slim records, both kinds concurrently, as the daemon does), RSS bytes per cached
object, `/healthz` p99, and objects/s of kubernetes-asyncio's typed-model LIST of the same data.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import kube_objects
from benchmarks.verdict import Figure, report

TARGET_SPEEDUP = 5.0
TARGET_BYTES_PER_OBJECT = 1024
TARGET_HEALTHZ_P99 = 0.050
TYPED_PER_KIND = 10_000
"""The typed baseline lists this many of each kind (at its rate, all 200,000 take ~10 minutes)."""


def rss() -> int:
    """Resident set size of this process in bytes."""
    with open("/proc/self/statm") as statm:  # noqa: PTH123 - one read of a proc file
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- the simulated cluster, in its own process ---------------------------------------------
def serve_cluster(count: int, kubeconfig: str, ready: Any, stop: Any) -> None:
    asyncio.run(_serve_cluster(count, kubeconfig, ready, stop))


async def _serve_cluster(count: int, kubeconfig: str, ready: Any, stop: Any) -> None:
    from gitops_lifecycle.clock import SimClock
    from gitops_lifecycle.simulation import SimulatedCluster

    sim = SimulatedCluster(clock=SimClock(), kubelet=False)
    kube_objects.seed(sim, count)
    await sim.start()
    sim.write_kubeconfig(kubeconfig)
    ready.set()
    await asyncio.to_thread(stop.wait)
    await sim.stop()


# --- the /healthz poller, in its own process -----------------------------------------------
def poll_healthz(port: int, stop: Any, results: Any) -> None:
    """(start, latency) of each request, on `time.perf_counter()` (system-wide on Linux)."""
    samples = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        samples.append((started, time.perf_counter() - started))
        time.sleep(0.01)
    results.put(samples)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


# --- our informers ---------------------------------------------------------------------------
async def sync_informers(kubeconfig: Path) -> dict[str, Any]:
    # The daemon's readers declare the labels and annotations they read when imported; the
    # caches keep those (`kube.kept`), as in the daemon.
    import gitops_lifecycle.daemon  # noqa: F401
    from gitops_lifecycle.health import Health
    from gitops_lifecycle.kube.client import Kube
    from gitops_lifecycle.kube.informer import Informer
    from gitops_lifecycle.kube.records import Job, Pod
    from gitops_lifecycle.kube.resources import JOBS, PODS
    from gitops_lifecycle.server import ObservabilityServer
    from gitops_lifecycle.settings import KubernetesSettings, ServerSettings

    health = Health()
    server = ObservabilityServer(settings=ServerSettings(host="127.0.0.1", port=0), health=health)
    serving = asyncio.create_task(server.run())
    await server.started.wait()
    assert server.port is not None
    context = mp.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    poller = context.Process(target=poll_healthz, args=(server.port, stop, results))
    # The client-side QPS limit is lifted: this measures decoding, not the limit's 50 pages/s.
    settings = KubernetesSettings(kubeconfig=kubeconfig, qps=10_000, burst=10_000)
    async with Kube.from_settings(settings) as kube:
        gc.collect()
        before = rss()
        poller.start()
        await asyncio.sleep(1)  # let the poller connect before the sync starts
        informers = [Informer(kube=kube, resource=JOBS, record=Job, health=health),
                     Informer(kube=kube, resource=PODS, record=Pod, health=health)]
        started = time.perf_counter()
        tasks = [asyncio.create_task(informer.run()) for informer in informers]
        await asyncio.gather(*(informer.has_synced.wait() for informer in informers))
        elapsed = time.perf_counter() - started
        stop.set()
        gc.collect()
        after = rss()
        objects = sum(len(informer) for informer in informers)
        for task in (*tasks, serving):
            task.cancel()
        await asyncio.gather(*tasks, serving, return_exceptions=True)
    samples = await asyncio.to_thread(results.get)
    poller.join()
    return {"objects": objects, "seconds": elapsed, "rss_delta": after - before,
            "healthz": [latency for at, latency in samples if at >= started],
            "healthz_idle": [latency for at, latency in samples if at < started]}


# --- kubernetes-asyncio's typed models ------------------------------------------------------
async def _list_typed_kind(list_all: Any, limit: int) -> int:
    listed, token = 0, None
    while listed < limit:
        page = await list_all(limit=500, _continue=token)
        listed += len(page.items)
        token = page.metadata._continue  # noqa: SLF001 - the model's name for `continue`
        if not token:
            break
    return listed


async def list_typed(kubeconfig: Path, limit: int) -> dict[str, Any]:
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig),
                                  client_configuration=configuration)
    objects = 0
    started = time.perf_counter()
    async with client.ApiClient(configuration) as api:
        for list_all in (client.BatchV1Api(api).list_job_for_all_namespaces,
                         client.CoreV1Api(api).list_pod_for_all_namespaces):
            objects += await _list_typed_kind(list_all, limit)
    return {"objects": objects, "seconds": time.perf_counter() - started}


# --- the run ---------------------------------------------------------------------------------
def json_bytes_per_object(count: int) -> float:
    """Mean size of the JSON the API server sends per object (Jobs and Pods alike)."""
    import msgspec

    sizes = [len(msgspec.json.encode(obj)) for make in (kube_objects.job, kube_objects.pod)
             for obj in kube_objects.many(make, min(count, 64))]
    return sum(sizes) / len(sizes)


def main(quick: bool = False) -> int:
    count = 2_000 if quick else 100_000
    context = mp.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    with tempfile.TemporaryDirectory() as scratch:
        kubeconfig = Path(scratch) / "kubeconfig"
        cluster = context.Process(target=serve_cluster, args=(count, str(kubeconfig), ready, stop))
        cluster.start()
        print(f"seeding {count:,} Jobs + {count:,} Pods in the simulated cluster...", flush=True)
        try:
            while not ready.wait(timeout=1):
                if not cluster.is_alive():
                    print("the simulated cluster did not start")
                    return 1
            ours = asyncio.run(sync_informers(kubeconfig))
            typed = asyncio.run(list_typed(kubeconfig, min(count // 5, TYPED_PER_KIND)))
        finally:
            stop.set()
            cluster.join(timeout=30)
            if cluster.is_alive():
                cluster.kill()
    ours["json_bytes"] = json_bytes_per_object(count)
    return report_figures(ours, typed, quick=quick)


def report_figures(ours: dict[str, Any], typed: dict[str, Any], *, quick: bool) -> int:
    rate = ours["objects"] / ours["seconds"]
    typed_rate = typed["objects"] / typed["seconds"]
    per_object = ours["rss_delta"] / ours["objects"]
    latencies, idle = ours["healthz"], ours["healthz_idle"]
    print(f"informers (raw JSON -> slim records): {ours['objects']:,} objects in "
          f"{ours['seconds']:.2f} s = {rate:,.0f} objects/s")
    print(f"kubernetes-asyncio typed LIST:        {typed['objects']:,} objects in "
          f"{typed['seconds']:.2f} s = {typed_rate:,.0f} objects/s")
    print(f"RSS: +{ours['rss_delta'] / 2**20:.1f} MiB for {ours['objects']:,} cached objects")
    print(f"/healthz during the sync: {len(latencies)} requests, "
          f"median {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    idle_p99 = f"{percentile(idle, 0.99) * 1000:.1f} ms before the sync" if idle else "none"
    return report([
        Figure("informer sync speed-up", rate / typed_rate, "x", at_least=TARGET_SPEEDUP,
               baseline=f"kubernetes-asyncio typed LIST {typed_rate:,.0f} objects/s "
                         f"(ours {rate:,.0f} objects/s)"),
        Figure("RSS per cached object", per_object, "bytes", at_most=TARGET_BYTES_PER_OBJECT,
               digits=0, baseline=f"{ours['json_bytes']:,.0f} bytes of JSON per object"),
        Figure("/healthz p99 during the sync", percentile(latencies, 0.99) * 1000, "ms",
               at_most=TARGET_HEALTHZ_P99 * 1000, baseline=idle_p99),
    ], quick=quick)
