"""Two real daemon processes on one simulated cluster: one leads, the other takes over.

These run in real time: they are separate processes, so virtual time cannot reach them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.timeout(180)

LEASE = ("coordination.k8s.io/v1", "Lease", "gitops-lifecycle-management")
NAMESPACE = "gitops-system"
SHORT = {"leaseDuration": 3.0, "renewDeadline": 2.0, "retryPeriod": 0.4}
"""The defaults' 15 : 10 : 2 ratio, five times faster."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Daemon:
    """One `python -m gitops_lifecycle run` process and its observability port."""

    def __init__(self, identity: str, *, kubeconfig: Path, logs: Path,
                 timing: dict[str, float]) -> None:
        self.identity = identity
        self.port = free_port()
        self._kubeconfig = kubeconfig
        self._log = logs / f"{identity}.log"
        self._timing = timing
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "GITOPS_LIFECYCLE_SERVER__HOST": "127.0.0.1",
               "GITOPS_LIFECYCLE_KUBERNETES__LEADERELECTION__IDENTITY": self.identity,
               "GITOPS_LIFECYCLE_LOGGING__FORMAT": "json"}
        for key, value in self._timing.items():
            env[f"GITOPS_LIFECYCLE_KUBERNETES__LEADERELECTION__{key.upper()}"] = str(value)
        with self._log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gitops_lifecycle", "run",
                "--kubeconfig", str(self._kubeconfig), "--port", str(self.port),
                env=env, stdout=log, stderr=log,
            )

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), 30)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def get(self, http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
        try:
            async with http.get(f"http://127.0.0.1:{self.port}{path}") as response:
                return response.status, await response.text()
        except aiohttp.ClientError:
            return 0, ""

    async def leader_gauge(self, http: aiohttp.ClientSession) -> float | None:
        status, text = await self.get(http, "/metrics")
        if status != 200:
            return None
        for line in text.splitlines():
            if line.startswith("gitops_leader "):
                return float(line.split()[1])
        return None

    def tail(self) -> str:
        return self._log.read_text()[-3000:] if self._log.exists() else ""


def holder(sim: SimulatedCluster) -> str | None:
    lease = sim.get(*LEASE, NAMESPACE)
    return None if lease is None else lease["spec"].get("holderIdentity")


def transitions(sim: SimulatedCluster) -> int:
    lease = sim.get(*LEASE, NAMESPACE)
    assert lease is not None
    return int(lease["spec"].get("leaseTransitions", 0))


async def eventually(check: Any, *, within: float, every: float = 0.02) -> float:
    """Seconds until `check()` is truthy; fails after `within` seconds."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            pytest.fail(f"not within {within} s")
        await asyncio.sleep(every)
    return time.monotonic() - started


@asynccontextmanager
async def two_daemons(
    tmp_path: Path, timing: dict[str, float]
) -> AsyncIterator[tuple[SimulatedCluster, aiohttp.ClientSession, list[Daemon]]]:
    async with SimulatedCluster(clock=SimClock()) as sim, aiohttp.ClientSession() as http:
        sim.ensure_namespaces("gitops-system")  # where the daemon runs
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        daemons = [Daemon(name, kubeconfig=kubeconfig, logs=tmp_path, timing=timing)
                   for name in ("replica-a", "replica-b")]
        try:
            for daemon in daemons:
                await daemon.start()
            yield sim, http, daemons
        except BaseException:
            for daemon in daemons:
                sys.stderr.write(f"--- {daemon.identity} ---\n{daemon.tail()}\n")
            raise
        finally:
            for daemon in daemons:
                await daemon.stop()


async def one_leader(sim: SimulatedCluster, http: aiohttp.ClientSession,
                     daemons: list[Daemon]) -> tuple[Daemon, Daemon]:
    """Wait until both are ready and exactly one leads, by the Lease and by /metrics."""

    async def ready() -> bool:
        statuses = [(await d.get(http, "/readyz"))[0] for d in daemons]
        return statuses == [200, 200]

    async def settled() -> bool:
        gauges = [await d.leader_gauge(http) for d in daemons]
        return sorted(gauges, key=str) == [0.0, 1.0] and holder(sim) in {
            d.identity for d, gauge in zip(daemons, gauges, strict=True) if gauge == 1.0}

    await eventually(ready, within=60, every=0.2)
    await eventually(settled, within=30)
    leader = next(d for d in daemons if d.identity == holder(sim))
    standby = next(d for d in daemons if d is not leader)
    return leader, standby


async def test_exactly_one_of_two_daemons_leads_and_the_standby_takes_over(
    tmp_path: Path,
) -> None:
    async with two_daemons(tmp_path, SHORT) as (sim, http, daemons):
        leader, standby = await one_leader(sim, http, daemons)
        for _ in range(20):  # a few lease durations without a change of leader
            await asyncio.sleep(0.25)
            assert await leader.leader_gauge(http) == 1.0
            assert await standby.leader_gauge(http) == 0.0
            assert holder(sim) == leader.identity
        assert transitions(sim) == 0

        # kill -9: nothing is released, the standby waits for the lease to expire.
        leader.signal(signal.SIGKILL)
        killed = time.monotonic()
        await leader.wait()

        async def standby_holds() -> bool:
            return holder(sim) == standby.identity

        await eventually(standby_holds, within=SHORT["leaseDuration"] + 1)
        took_over = time.monotonic() - killed
        assert took_over <= SHORT["leaseDuration"] + 0.2  # request latency on top
        assert await standby.leader_gauge(http) == 1.0
        assert transitions(sim) == 1

        # The killed one comes back as the standby; SIGTERM on the leader hands over fast.
        await leader.start()
        new_leader, new_standby = await one_leader(sim, http, daemons)
        assert new_leader is standby
        new_leader.signal(signal.SIGTERM)
        terminated = time.monotonic()

        async def other_holds() -> bool:
            return holder(sim) == new_standby.identity

        assert await eventually(other_holds, within=2.0) <= 2.0
        assert await new_leader.wait() == 0
        assert await new_standby.leader_gauge(http) == 1.0
        assert time.monotonic() - terminated <= 30
        assert (await new_standby.get(http, "/readyz"))[0] == 200


async def test_with_the_default_lease_timings_sigterm_hands_over_within_2_s(
    tmp_path: Path,
) -> None:
    async with two_daemons(tmp_path, {}) as (sim, http, daemons):
        leader, standby = await one_leader(sim, http, daemons)
        lease = sim.get(*LEASE, NAMESPACE)
        assert lease is not None
        assert lease["spec"]["leaseDurationSeconds"] == 15
        leader.signal(signal.SIGTERM)

        async def standby_holds() -> bool:
            return holder(sim) == standby.identity

        assert await eventually(standby_holds, within=2.0) <= 2.0
        assert await leader.wait() == 0
        assert await standby.leader_gauge(http) == 1.0
