"""`gitops-lifecycle simulate`: the simulated cluster and the simulated Authentik, until SIGTERM
or SIGINT.

With `--kubeconfig-out PATH`, the Authentik's URL and token are written beside the kubeconfig
(`authentik-url`, `authentik-token`, `authentik.env`), so that a daemon started separately
finds both: `--set authentik.url=$(cat authentik-url) --set authentik.tokenFile=authentik-token`,
or `set -a; . ./authentik.env`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import scenarios
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from gitops_lifecycle.simulation.kubeapi.cluster import SimulatedCluster
from gitops_lifecycle.simulation.kubeapi.scenario import ScenarioError


async def run(args: argparse.Namespace) -> int:
    """Serve until a signal; print where, and where the kubeconfig went."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    clock = SimClock(speed=args.speed)
    sim = SimulatedCluster(clock=clock, controllers=True)
    if not args.empty:
        scenario = scenarios.find(args.scenario)
        try:
            seeded = sim.load_scenario(scenario.read_text())
        except (OSError, ScenarioError) as exc:
            known = ", ".join(scenarios.bundled())
            print(f"gitops-lifecycle simulate: scenario {args.scenario!r}: {exc} "  # noqa: T201
                  f"(bundled scenarios: {known})", file=sys.stderr)
            return 2
        print(f"seeded {len(seeded)} objects from scenario {args.scenario}")  # noqa: T201
    sim.ensure_namespaces("gitops-system")  # where the chart installs the daemon
    if not sim.list("v1", "Node"):
        sim.set_node_ready("node-1")  # somewhere for pods to run
    # Seeded objects live as long as the process: keep them out of the collector's scans.
    gc.freeze()
    await sim.start(port=args.port)
    print(f"simulated Kubernetes API at {sim.url}", flush=True)  # noqa: T201
    if args.kubeconfig_out is not None:
        path = sim.write_kubeconfig(args.kubeconfig_out)
        print(f"kubeconfig: {path}  (kubectl --kubeconfig {path} get pods -A)",  # noqa: T201
              flush=True)
    authentik = SimulatedAuthentik(clock=clock, token=args.authentik_token,
                                   version=args.authentik_version,
                                   validate_schema=args.authentik_schema)
    await authentik.start(port=args.authentik_port)
    print(f"simulated Authentik API at {authentik.url}", flush=True)  # noqa: T201
    if args.kubeconfig_out is not None:
        written = authentik.write_credentials(args.kubeconfig_out.parent)
        print(f"authentik: {written['env']}  (--set authentik.url={authentik.url} "  # noqa: T201
              f"--set authentik.tokenFile={written['token']})", flush=True)
    try:
        await stop.wait()
    finally:
        await authentik.stop()
        await sim.stop()
    return 0
