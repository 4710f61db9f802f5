"""`gitops-lifecycle demo`: the real daemon against a seeded simulated cluster, narrated.

Simulated time runs `--speed` times faster than real time, so hours of cleanup play out in a
minute; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from gitops_lifecycle import daemon, logs
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.settings import Settings, parse_duration
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.narration import Narrator

CENSUS_EVERY = 10.0  # real seconds between "cluster now" lines


def scenario_text() -> str:
    """The demo's scenario, shipped in the package."""
    return (resources.files("gitops_lifecycle.simulation") / "scenarios" / "demo.yaml") \
        .read_text()


def _with_kubeconfig(settings: Settings, kubeconfig: Path) -> Settings:
    kubernetes = settings.kubernetes.model_copy(update={"kubeconfig": kubeconfig,
                                                        "context": None})
    return settings.model_copy(update={"kubernetes": kubernetes})


def _start_daemon(settings: Settings, stop: asyncio.Event, clock: SimClock) -> \
        asyncio.Task[int]:
    accepts_clock = "clock" in inspect.signature(daemon.run).parameters
    kwargs: dict[str, Any] = {"clock": clock} if accepts_clock else {}
    return asyncio.create_task(daemon.run(settings, stop, **kwargs), name="daemon")


def cleanup_metrics() -> list[str]:
    """The non-zero `gitops_cleanup_*` samples, as `name{labels} value` lines."""
    lines = []
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name.startswith("gitops_cleanup_") and sample.value and \
                    not sample.name.endswith(("_created", "_bucket")):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                lines.append(f"{sample.name}{{{labels}}} {sample.value:g}")
    return lines


async def _wait(stop: asyncio.Event, task: asyncio.Task[int], *, duration: float,
                narrator: Narrator) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    while not stop.is_set() and not task.done() and (left := deadline - loop.time()) > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(stop.wait()), min(left, CENSUS_EVERY))
        narrator.flush()
        if not stop.is_set() and not task.done():
            narrator.census()


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo for `--duration` (real time) or until Ctrl-C; the daemon's exit code."""
    if not hasattr(args, "log_level"):
        # The narration tells the story; the daemon's own log lines only when asked for.
        logs.configure("warning", settings.logging.format)
    clock = SimClock(speed=args.speed)
    duration = parse_duration(args.duration)
    sim = SimulatedCluster(clock=clock, controllers=True)
    with tempfile.TemporaryDirectory(prefix="gitops-demo-") as scratch:
        kubeconfig = getattr(args, "kubeconfig_out", None) or Path(scratch) / "kubeconfig"
        seeded = sim.load_scenario(scenario_text())
        await sim.start()
        sim.write_kubeconfig(kubeconfig)
        narrator = Narrator(cluster=sim, clock=clock)
        print(f"simulated cluster at {sim.url}, seeded with {len(seeded)} objects; "  # noqa: T201
              f"simulated time runs {args.speed:g}x real time")
        print(f"  kubectl --kubeconfig {kubeconfig} get jobs,pods,rs,events -A")  # noqa: T201
        print(f"  metrics: http://127.0.0.1:{settings.server.port}/metrics "  # noqa: T201
              f"(for {duration:g} s, Ctrl-C ends it sooner)", flush=True)
        narrator.census()
        narrator.start()
        stop = asyncio.Event()
        task = _start_daemon(_with_kubeconfig(settings, kubeconfig), stop, clock)
        try:
            await _wait(stop, task, duration=duration, narrator=narrator)
        finally:
            stop.set()
            code = await task
            narrator.stop()
            narrator.census()
            await sim.stop()
    _summary(narrator)
    return code


def _summary(narrator: Narrator) -> None:
    deleted = ", ".join(f"{count} {kind}(s)" for kind, count in narrator.deleted.items())
    print(f"deleted in all: {deleted or 'nothing'}")  # noqa: T201
    for line in cleanup_metrics():
        print(f"  {line}")  # noqa: T201
