"""Chaos: two real `gitops-lifecycle run` processes, each behind a network that stalls, fails
and cuts requests of every kind (the Lease's too), on one simulated cluster.

Neither process ever exits; no replica deletes anything after the moment its lease could
have passed to the other (checked from what reached the server, in order); and once the
faults stop, exactly the eligible Jobs are gone. Real time: the daemons are processes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster
from tests.chaos_proxy import ChaosProxy, Forwarded
from tests.cleanup.builders import HOUR, job_dict
from tests.test_daemon_leader import free_port

pytestmark = pytest.mark.timeout(300)

CHAOS_SECONDS = float(os.environ.get("CHAOS_SECONDS", "60"))
SETTLE_SECONDS = 90.0
TIMING = {"LEASEDURATION": "3", "RENEWDEADLINE": "2", "RETRYPERIOD": "0.4"}
REPLICAS = ("replica-a", "replica-b")


def seed(sim: SimulatedCluster) -> tuple[set[str], set[str]]:
    """Jobs due now, Jobs due during the chaos, and Jobs that must stay."""
    now = sim.clock.now()
    sim.ensure_namespaces("default", "gitops-system")
    eligible, kept = set(), set()
    for index in range(25):
        sim.create(job_dict(f"due-{index}", finished=now - 2 * HOUR))
        eligible.add(f"due-{index}")
    for index in range(15):  # expire one every few seconds while the faults are on
        at = now - HOUR + 5 + index * CHAOS_SECONDS / 20
        sim.create(job_dict(f"soon-{index}", finished=at))
        eligible.add(f"soon-{index}")
    for index in range(20):
        sim.create(job_dict(f"young-{index}", finished=now - 60))
        kept.add(f"young-{index}")
    for index in range(15):
        sim.create(job_dict(f"running-{index}"))
        kept.add(f"running-{index}")
    for index in range(5):
        sim.create(job_dict(f"opted-out-{index}", finished=now - 2 * HOUR,
                            annotations={"gitops.io/cleanup": "false"}))
        kept.add(f"opted-out-{index}")
    return eligible, kept


@asynccontextmanager
async def daemons(
    tmp_path: Path, proxies: dict[str, ChaosProxy],
) -> AsyncIterator[dict[str, asyncio.subprocess.Process]]:
    processes: dict[str, asyncio.subprocess.Process] = {}
    try:
        for name, proxy in proxies.items():
            kubeconfig = tmp_path / f"kubeconfig-{name}"
            kubeconfig.write_text(
                "apiVersion: v1\nkind: Config\ncurrent-context: sim\n"
                f"clusters: [{{name: sim, cluster: {{server: '{proxy.url}'}}}}]\n"
                "users: [{name: sim, user: {token: sim}}]\n"
                "contexts: [{name: sim, context: {cluster: sim, user: sim}}]\n")
            env = {**os.environ, "GITOPS_LIFECYCLE_SERVER__HOST": "127.0.0.1",
                   "GITOPS_LIFECYCLE_KUBERNETES__LEADERELECTION__IDENTITY": name,
                   "GITOPS_LIFECYCLE_CLEANUP__CONTROLLER__INTERVAL": "15s",
                   "GITOPS_LIFECYCLE_LOGGING__FORMAT": "json"}
            for key, value in TIMING.items():
                env[f"GITOPS_LIFECYCLE_KUBERNETES__LEADERELECTION__{key}"] = value
            log = (tmp_path / f"{name}.log").open("ab")
            processes[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gitops_lifecycle", "run", "--kubeconfig",
                str(kubeconfig), "--port", str(free_port()), env=env, stdout=log, stderr=log)
        yield processes
    except BaseException:
        for name in processes:
            sys.stderr.write(f"--- {name} ---\n{(tmp_path / f'{name}.log').read_text()[-4000:]}\n")
        raise
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()


def acting_violations(log: list[Forwarded], lease_duration: float) -> list[str]:
    """DELETEs that reached the server from a replica that did not hold the Lease then.

    The holder at any moment is the one the last Lease write accepted by the server named;
    a DELETE must come from it, and not after another replica's takeover write was sent.
    """
    del lease_duration
    found = []
    events = sorted(log, key=lambda entry: entry.at)
    holder: str | None = None
    for entry in events:
        if entry.holder is not None:
            holder = entry.holder or None
        elif entry.method == "DELETE" and entry.status < 300 and entry.replica != holder:
            found.append(f"{entry.replica} deleted {entry.path} at {entry.at:.3f} "
                         f"while the lease was {holder!r}'s")
    return found


async def test_two_daemons_under_chaos_never_exit_never_both_act_and_delete_exactly_the_due(
    tmp_path: Path,
) -> None:
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "7")))
    log: list[Forwarded] = []
    async with SimulatedCluster(clock=SimClock()) as sim, AsyncExitStack() as stack:
        eligible, kept = seed(sim)
        proxies = {name: ChaosProxy(name, sim.url, random.Random(rng.random()), log)
                   for name in REPLICAS}
        for proxy in proxies.values():
            await proxy.start()
            stack.push_async_callback(proxy.stop)
        async with daemons(tmp_path, proxies) as processes:
            await asyncio.sleep(3)
            for proxy in proxies.values():
                proxy.chaos = True
            started = time.monotonic()
            while time.monotonic() - started < CHAOS_SECONDS:
                await asyncio.sleep(1)
                assert all(p.returncode is None for p in processes.values()), "a daemon exited"
                if rng.random() < 0.15:  # now and then, one replica is cut off for a while
                    victim = proxies[rng.choice(REPLICAS)]
                    victim.cut_off_until = time.monotonic() + rng.uniform(1.0, 6.0)
            for proxy in proxies.values():
                proxy.chaos = False
            settled = time.monotonic()
            while time.monotonic() - settled < SETTLE_SECONDS:
                left = {job["metadata"]["name"] for job in sim.list("batch/v1", "Job")}
                if left == kept:
                    break
                await asyncio.sleep(1)
            assert all(p.returncode is None for p in processes.values()), "a daemon exited"
        left = {job["metadata"]["name"] for job in sim.list("batch/v1", "Job")}
        deleted = [entry for entry in log if entry.method == "DELETE" and entry.status < 300]
        takeovers = [entry for entry in log if entry.holder]
        chaos_deletes = [entry for entry in deleted if entry.at < settled]

    assert left == kept, f"missed: {sorted(left - kept)}, wrongly deleted: {sorted(kept - left)}"
    assert {entry.path.rsplit("/", 1)[-1] for entry in deleted} == eligible
    assert not acting_violations(log, float(TIMING["LEASEDURATION"]))
    assert chaos_deletes, "nothing was deleted while the faults were on"
    injected = {kind: sum(p.injected.get(kind, 0) for p in proxies.values())
                for kind in ("500", "429", "504", "stall", "cut", "lease", "partition")}
    changes = sum(1 for a, b in itertools.pairwise(takeovers)
                  if a.holder != b.holder)
    sys.stderr.write(f"chaos: {injected}, {len(deleted)} deletions, {changes} changes of "
                     f"leader\n")
    assert all(injected.values()), injected
