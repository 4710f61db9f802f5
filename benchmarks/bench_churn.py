"""Cost of churn: CPU seconds per 1,000 watch events, next to kubernetes-asyncio's typed watch.

A simulated cluster in its own process holds 50,000 Jobs and 50,000 Pods (`--quick`: 1,000 of
each) and, once everyone is watching, creates, updates and deletes Jobs and Pods at 100 events
per second for three minutes (`--quick`: 8 s), objects shaped like `kubectl get -o json`
shows them (`benchmarks/kube_objects.py`). Three processes watch it meanwhile:

- the leader: the Job and Pod informers with the cleanup controllers running (every Job gets
  its expiry timer; the TTLs are set far enough out that nothing is deleted);
- a standby: the same informers and controllers, not leading (its caches stay warm, its
  controllers queue nothing);
- the baseline: kubernetes-asyncio's `Watch().stream()` over `list_job_for_all_namespaces`
  and `list_pod_for_all_namespaces`, decoding every event into its typed models.

Each measures its own CPU time (`time.process_time()`) over the churn and counts the events
it received; the figure is CPU seconds per 1,000 events and the ratio to the baseline. The
leader and the standby also sample their RSS and the leader its reconcile queue (keys waiting
plus timers) every 2 s: neither may grow over the run.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import kube_objects
from benchmarks.verdict import Figure, report

TARGET_RATIO = 20.0
TARGET_GROWTH = 2.0
"""Percent of RSS, or keys in the reconcile queue, from the first third of the run to the end."""
RATE = 100.0
SAMPLE_EVERY = 2.0


def _rss() -> int:
    with open("/proc/self/statm") as statm:  # noqa: PTH123 - one read of a proc file
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- the simulated cluster and its churn, in its own process ----------------------------------
def serve(count: int, seconds: float, kubeconfig: str, flags: dict[str, Any]) -> None:
    asyncio.run(_serve(count, seconds, kubeconfig, flags))


async def _serve(count: int, seconds: float, kubeconfig: str, flags: dict[str, Any]) -> None:
    from gitops_lifecycle.clock import SimClock
    from gitops_lifecycle.simulation import SimulatedCluster

    sim = SimulatedCluster(clock=SimClock(), kubelet=False)
    kube_objects.seed(sim, count)
    await sim.start()
    sim.write_kubeconfig(kubeconfig)
    flags["cluster"].set()
    await asyncio.to_thread(flags["go"].wait)
    events = await churn(sim, seconds)
    flags["done"].set()
    flags["results"].put(("cluster", {"events": events}))
    await asyncio.to_thread(flags["stop"].wait)
    await sim.stop()


async def churn(sim: Any, seconds: float) -> int:
    """Create, update and delete Jobs and Pods at `RATE` events/s; how many events."""
    templates = {"Job": kube_objects.job(1), "Pod": kube_objects.pod(1)}
    loop = asyncio.get_running_loop()
    started = loop.time()
    total = int(seconds * RATE)
    for index in range(total):
        delay = started + index / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        kind = "Job" if index % 6 < 3 else "Pod"
        obj = templates[kind]
        api = obj["apiVersion"]
        namespace = obj["metadata"]["namespace"]
        name = f"churn-{kind.lower()}-{index // 6}"
        step = index % 3
        if step == 0:
            fresh = {**obj, "metadata": {**obj["metadata"], "name": name}}
            sim.create(fresh)
        elif step == 1:
            sim.patch(api, kind, name, {"metadata": {"labels": {"churn": str(index)}}},
                      namespace=namespace)
        else:  # at once, as the kubelet of a node that is gone would confirm it
            sim.delete(api, kind, name, namespace=namespace, grace_period_seconds=0)
    return total


# --- a replica of the daemon: leader or standby ------------------------------------------------
def replica(role: str, kubeconfig: str, flags: dict[str, Any]) -> None:
    asyncio.run(_replica(role, Path(kubeconfig), flags))


def _settings(kubeconfig: Path) -> Any:
    from gitops_lifecycle.settings import Settings

    far = "36500d"  # every Job gets a timer; none runs out during the run
    return Settings.model_validate({
        "kubernetes": {"kubeconfig": str(kubeconfig), "qps": 1000, "burst": 1000,
                       "leaderElection": {"enabled": False}},
        "cleanup": {"controller": {"policies": {
            "completedJobs": {"ttl": far}, "failedJobs": {"ttl": far}}}},
    })


async def _replica(role: str, kubeconfig: Path, flags: dict[str, Any]) -> None:
    from gitops_lifecycle import logs
    from gitops_lifecycle.cleanup import wiring
    from gitops_lifecycle.clock import Clock
    from gitops_lifecycle.daemon import SharedInformers
    from gitops_lifecycle.health import Health
    from gitops_lifecycle.kube.client import Kube
    from gitops_lifecycle.kube.resources import JOBS, PODS

    logs.configure(level="warning")
    config = _settings(kubeconfig)
    clock = Clock()
    received = 0

    def count(*_: Any) -> None:
        nonlocal received
        received += 1

    async with Kube.from_settings(config.kubernetes) as kube:
        informers = SharedInformers(kube=kube, settings=config, clock=clock, health=Health())
        components = wiring.controllers(kube=kube, settings=config, clock=clock,
                                        informers=informers)
        watched = [informers.made[JOBS], informers.made[PODS]]
        for one in watched:
            one.subscribe(count)
        tasks = [asyncio.create_task(one.run()) for one in informers.made.values()]
        if role == "leader":
            tasks += [asyncio.create_task(component.run()) for component in components]
        await asyncio.gather(*(one.has_synced.wait() for one in informers.made.values()))
        await asyncio.sleep(2)  # the leader's first sweep
        gc.collect()
        idle = await _idle_cpu()
        flags[role].set()
        await asyncio.to_thread(flags["go"].wait)
        queues = [c.queue for c in components if hasattr(c, "queue")]
        cpu, before, samples = time.process_time(), received, []
        started = time.monotonic()
        while not flags["done"].is_set():
            samples.append((_rss(), sum(len(q) + q.timers for q in queues)))
            await asyncio.sleep(SAMPLE_EVERY)
        await asyncio.sleep(1)  # the last events in flight
        samples.append((_rss(), sum(len(q) + q.timers for q in queues)))
        figures = {"cpu": time.process_time() - cpu, "events": received - before,
                   "samples": samples, "cached": sum(len(one) for one in watched),
                   "idle": idle, "seconds": time.monotonic() - started}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    flags["results"].put((role, figures))


async def _idle_cpu(seconds: float = 3.0) -> float:
    """CPU seconds per second this process spends with nothing happening (timers, watches)."""
    cpu = time.process_time()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / seconds


# --- kubernetes-asyncio's typed watch ----------------------------------------------------------
def typed(kubeconfig: str, flags: dict[str, Any]) -> None:
    asyncio.run(_typed(kubeconfig, flags))


async def _typed(kubeconfig: str, flags: dict[str, Any]) -> None:
    from kubernetes_asyncio import client, config, watch

    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    received = 0
    async with client.ApiClient(configuration) as api:
        lists = (client.BatchV1Api(api).list_job_for_all_namespaces,
                 client.CoreV1Api(api).list_pod_for_all_namespaces)

        async def follow(list_all: Any) -> None:
            nonlocal received
            version = (await list_all(limit=1)).metadata.resource_version
            async for _ in watch.Watch().stream(list_all, resource_version=version,
                                                timeout_seconds=3600):
                received += 1

        tasks = [asyncio.create_task(follow(list_all)) for list_all in lists]
        await asyncio.sleep(2)  # the watches are open
        idle = await _idle_cpu()
        flags["typed"].set()
        await asyncio.to_thread(flags["go"].wait)
        cpu, before, started = time.process_time(), received, time.monotonic()
        await asyncio.to_thread(flags["done"].wait)
        await asyncio.sleep(1)
        figures = {"cpu": time.process_time() - cpu, "events": received - before,
                   "idle": idle, "seconds": time.monotonic() - started}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    flags["results"].put(("typed", figures))


# --- the run ------------------------------------------------------------------------------------
def measure(count: int, seconds: float) -> dict[str, Any]:
    context = mp.get_context("spawn")
    flags: dict[str, Any] = {name: context.Event() for name in (
        "cluster", "leader", "standby", "typed", "go", "done", "stop")}
    flags["results"] = context.Queue()
    with tempfile.TemporaryDirectory() as scratch:
        kubeconfig = str(Path(scratch) / "kubeconfig")
        cluster = context.Process(target=serve, args=(count, seconds, kubeconfig, flags))
        cluster.start()
        processes = [cluster]
        try:
            _wait(flags["cluster"], processes)
            for role in ("leader", "standby"):
                processes.append(context.Process(target=replica,
                                                 args=(role, kubeconfig, flags)))
                processes[-1].start()
            processes.append(context.Process(target=typed, args=(kubeconfig, flags)))
            processes[-1].start()
            for name in ("leader", "standby", "typed"):
                _wait(flags[name], processes)
            flags["go"].set()
            results = dict(flags["results"].get(timeout=seconds + 600) for _ in range(4))
        finally:
            flags["stop"].set()
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
    return results


def _wait(flag: Any, processes: list[Any]) -> None:
    while not flag.wait(timeout=1):
        if not all(process.is_alive() for process in processes):
            msg = "a process of the benchmark ended early"
            raise RuntimeError(msg)


def _growth(samples: list[tuple[int, int]], which: int) -> float:
    """The last sample minus the largest of the first third (RSS: in percent of it)."""
    early = max(sample[which] for sample in samples[: max(1, len(samples) // 3)])
    grown = samples[-1][which] - early
    return 100.0 * grown / early if which == 0 else float(grown)


def _marginal(figures: dict[str, Any]) -> float:
    """CPU seconds per 1,000 events beyond what the process spends idle."""
    extra = figures["cpu"] - figures["idle"] * figures["seconds"]
    return extra / max(figures["events"], 1) * 1000


def main(quick: bool = False) -> int:
    count, seconds = (1_000, 8.0) if quick else (50_000, 180.0)
    print(f"{2 * count:,} objects cached; Jobs and Pods created, updated and deleted at "
          f"{RATE:.0f} events/s for {seconds:.0f} s", flush=True)
    results = measure(count, seconds)
    typed_cost = results["typed"]["cpu"] / max(results["typed"]["events"], 1) * 1000
    typed_marginal = _marginal(results["typed"])
    print(f"cluster sent {results['cluster']['events']:,} events")
    figures = []
    for role in ("leader", "standby"):
        ours = results[role]
        cost = ours["cpu"] / max(ours["events"], 1) * 1000
        rss = [sample[0] / 2**20 for sample in ours["samples"]]
        queue = [sample[1] for sample in ours["samples"]]
        print(f"{role}: {ours['events']:,} events, {ours['cpu']:.2f} CPU s = {cost:.3f} s per "
              f"1,000 ({_marginal(ours):.3f} s beyond its idle {ours['idle']:.4f} CPU s/s; "
              f"typed {typed_marginal:.3f} s beyond {results['typed']['idle']:.4f}); "
              f"{ours['cached']:,} cached; RSS {rss[0]:.1f} -> {rss[-1]:.1f} MiB "
              f"(max {max(rss):.1f}); queue + timers {queue[0]:,} -> {queue[-1]:,}")
        baseline = (f"kubernetes-asyncio typed watch {typed_cost:.3f} CPU s per 1,000 "
                    f"({results['typed']['events']:,} events); ours {cost:.4f} s")
        figures.append(Figure(f"CPU per 1,000 watch events, {role}, x cheaper",
                              typed_cost / cost if cost else float("inf"), "x",
                              at_least=TARGET_RATIO, baseline=baseline))
        figures.append(Figure(f"RSS growth over the run, {role}", _growth(ours["samples"], 0),
                              "%", at_most=TARGET_GROWTH,
                              baseline=f"{rss[0]:.1f} MiB at the start of the churn"))
        if role == "leader":
            figures.append(Figure("reconcile queue growth over the run, leader",
                                  _growth(ours["samples"], 1), "keys", at_most=TARGET_GROWTH,
                                  digits=0, baseline=f"{queue[0]:,} keys and timers at the start"))
    return report(figures, quick=quick)
