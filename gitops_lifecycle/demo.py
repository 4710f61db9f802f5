"""`gitops-lifecycle demo`: the real daemon against a seeded simulated cluster, narrated.

Simulated time runs `--speed` times faster than real time, so hours of cleanup play out in a
minute; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from gitops_lifecycle import daemon, demo_authentik, logs
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.durations import parse_duration
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster, scenarios
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from gitops_lifecycle.simulation.kubeapi.tables import human_age
from gitops_lifecycle.simulation.narration import Narrator

CENSUS_EVERY = 10.0  # real seconds between "cluster now" lines
STORY_EVERY = 0.5  # real seconds between looks at what changed in Authentik


def scenario_text() -> str:
    """The demo's scenario, shipped in the package."""
    return scenarios.find("demo").read_text()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a demo on a busy machine."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _for_demo(settings: Settings, kubeconfig: Path, *, port: int) -> Settings:
    kubernetes = settings.kubernetes.model_copy(update={"kubeconfig": kubeconfig,
                                                        "context": None})
    server = settings.server.model_copy(update={"port": port})
    return settings.model_copy(update={"kubernetes": kubernetes, "server": server})


def _start_daemon(settings: Settings, stop: asyncio.Event, clock: SimClock) -> \
        asyncio.Task[int]:
    accepts_clock = "clock" in inspect.signature(daemon.run).parameters
    kwargs: dict[str, Any] = {"clock": clock} if accepts_clock else {}
    return asyncio.create_task(daemon.run(settings, stop, **kwargs), name="daemon")


# What each policy deletes, read back from the daemon's own counters.
_DELETED = {
    "completedJobs": ("gitops_cleanup_jobs_cleaned_total", {"type": "completed"}),
    "failedJobs": ("gitops_cleanup_jobs_cleaned_total", {"type": "failed"}),
    "stuckPods": ("gitops_cleanup_stuck_resources_cleaned_total", {}),
    "events": ("gitops_cleanup_events_cleaned_total", {}),
    "replicaSets": ("gitops_cleanup_replicasets_cleaned_total", {}),
    "orphanedProviders": ("gitops_cleanup_providers_cleaned_total", {}),
}
_NAMED = (
    ("gitops_cleanup_jobs_cleaned_total", "Jobs deleted, by type"),
    ("gitops_cleanup_skipped_total", "objects left alone, by policy and reason"),
    ("gitops_cleanup_deletion_lag_seconds", "how late each deletion was after expiry"),
    ("gitops_cleanup_blast_radius_blocked_total", "sweeps stopped for deleting too much"),
)


def _value(name: str, labels: dict[str, str]) -> int:
    return int(REGISTRY.get_sample_value(name, labels) or 0)


def _kept(policy: str) -> str:
    reasons = [(sample.labels["reason"], int(sample.value))
               for family in REGISTRY.collect() if family.name == "gitops_cleanup_skipped"
               for sample in family.samples
               if sample.name == "gitops_cleanup_skipped_total"
               and sample.labels.get("policy") == policy and sample.value]
    return ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in reasons) or "-"


def closing_table(*, simulated: float, port: int) -> str:
    """Per policy, what the daemon deleted (or would have) and what it left alone, and why."""
    rows: list[tuple[str, ...]] = [
        ("policy", "deleted", "would delete (dry run)", "left alone (why)")]
    for policy, (name, labels) in _DELETED.items():
        deleted = _value(name, labels)
        dry = _value("gitops_cleanup_dry_run_total", {"policy": policy})
        kept = _kept(policy)
        if deleted or dry or kept != "-":
            rows.append((policy, str(deleted), str(dry), kept))
    if not any(row[2] != "0" for row in rows[1:]):
        rows = [(policy, deleted, kept) for policy, deleted, _, kept in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [f"\nIn {human_age(simulated)} of simulated time the daemon did this:"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[-1] for row in rows]
    lines.append(f"The metrics behind it (all of them: curl -s http://127.0.0.1:{port}/metrics "
                 "while a demo runs):")
    lines += [f"  {name:<44} {meaning}" for name, meaning in _NAMED]
    return "\n".join(lines)


async def _wait(stop: asyncio.Event, task: asyncio.Task[int], *, duration: float,
                narrator: Narrator, story: demo_authentik.AuthentikStory) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    census = loop.time() + CENSUS_EVERY
    while not stop.is_set() and not task.done() and (left := deadline - loop.time()) > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(stop.wait()), min(left, STORY_EVERY))
        story.flush()
        if loop.time() < census:
            continue
        census = loop.time() + CENSUS_EVERY
        narrator.flush()
        if not stop.is_set() and not task.done() and deadline - loop.time() > 0:
            narrator.census()
            story.census()


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo for `--duration` (real time) or until Ctrl-C; the daemon's exit code."""
    if not hasattr(args, "log_level"):
        # The narration tells the story; the daemon's own log lines only when asked for.
        logs.configure("warning", settings.logging.format)
    # `--port` is honoured; otherwise any free port, so that a busy 8080 does not matter.
    port = getattr(args, "port", None) or free_port()
    clock = SimClock(speed=args.speed)
    duration = parse_duration(args.duration)
    sim = SimulatedCluster(clock=clock, controllers=True)
    authentik = SimulatedAuthentik(clock=clock, validate_schema="off")
    with tempfile.TemporaryDirectory(prefix="gitops-demo-") as scratch:
        kubeconfig = getattr(args, "kubeconfig_out", None) or Path(scratch) / "kubeconfig"
        seeded = sim.load_scenario(scenario_text())
        sim.ensure_namespaces(settings.kubernetes.leader_election.lease_namespace)
        await sim.start()
        await authentik.start()
        proxies = demo_authentik.seed(sim, authentik)
        settings = demo_authentik.configure(settings, authentik)
        sim.write_kubeconfig(kubeconfig)
        narrator = Narrator(cluster=sim, clock=clock)
        story = demo_authentik.AuthentikStory(authentik, narrator)
        print(f"simulated cluster at {sim.url}, seeded with {len(seeded)} objects; "  # noqa: T201
              f"simulated time runs {args.speed:g}x real time, for {duration:g} s "
              "(Ctrl-C ends it sooner)")
        print(f"  kubectl --kubeconfig {kubeconfig} get jobs,pods,rs,events -A")  # noqa: T201
        print(f"simulated Authentik at {authentik.url}: {proxies} ProxyConfigs applied, "  # noqa: T201
              "a provider orphaned by a ProxyConfig deleted long ago (collected after "
              f"orphanedProviders.maxAge {demo_authentik.ORPHAN_MAX_AGE}), one made by hand")
        print(f"  curl -s http://127.0.0.1:{port}/metrics | grep ^gitops_",  # noqa: T201
              flush=True)
        narrator.census()
        narrator.start()
        stop = asyncio.Event()
        task = _start_daemon(_for_demo(settings, kubeconfig, port=port), stop, clock)
        try:
            await _wait(stop, task, duration=duration, narrator=narrator, story=story)
        finally:
            stop.set()
            code = await task
            narrator.stop()
            story.flush()
            await authentik.stop()
            await sim.stop()
    print(closing_table(simulated=clock.now() - narrator.began, port=port))  # noqa: T201
    narrator.census()
    story.census()
    print(f"Authentik: {story.created} provider(s) created, "  # noqa: T201
          f"{story.deleted} orphaned provider(s) collected")
    if code:
        print(f"gitops-lifecycle demo: the daemon stopped with exit code {code}; "  # noqa: T201
              "its error is logged above", file=sys.stderr)
    return code
