"""Two electors on one simulated Lease, each behind its own faulty network and clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import KubeError
from gitops_lifecycle.kube.leader import LeaderElector
from gitops_lifecycle.settings import KubernetesSettings, LeaderElectionSettings
from gitops_lifecycle.simulation import SimulatedCluster

START = 1_700_000_000.0


@dataclass
class Trouble:
    """From loop time `start` to `end`: delay each request by `stall` seconds (it still lands
    on the server if the caller gave up meanwhile), then answer `error` (or the real answer)."""

    start: float
    end: float
    stall: float = 0.0
    error: KubeError | None = None


class FaultyKube(Kube):
    """Our client behind a network that stalls and fails requests on a schedule."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.troubles: list[Trouble] = []
        self.in_flight: set[asyncio.Task[bytes]] = set()

    def _trouble(self) -> Trouble | None:
        now = asyncio.get_running_loop().time()
        return next((t for t in self.troubles if t.start <= now < t.end), None)

    async def request(self, method: str, path: str, **kwargs: Any) -> bytes:
        trouble = self._trouble()
        if trouble is None:
            return await super().request(method, path, **kwargs)

        async def late() -> bytes:
            await asyncio.sleep(trouble.stall)
            answer = await Kube.request(self, method, path, **kwargs)
            if trouble.error is not None:
                raise trouble.error
            return answer

        task = asyncio.ensure_future(late())
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        return await asyncio.shield(task)


@dataclass
class Terms:
    """When each elector acted, in loop time, from its own callbacks."""

    spans: dict[str, list[list[float]]] = field(default_factory=dict)

    def callbacks(self, identity: str) -> dict[str, Callable[[], None]]:
        spans = self.spans.setdefault(identity, [])
        loop = asyncio.get_running_loop()

        def started() -> None:
            spans.append([loop.time(), float("inf")])

        def stopped() -> None:
            spans[-1][1] = loop.time()

        return {"on_started_leading": started, "on_stopped_leading": stopped}

    def overlaps(self) -> list[tuple[str, list[float], str, list[float]]]:
        names = sorted(self.spans)
        return [(one, a, two, b)
                for index, one in enumerate(names) for two in names[index + 1:]
                for a in self.spans[one] for b in self.spans[two]
                if a[0] < b[1] and b[0] < a[1]]


@dataclass
class Replica:
    elector: LeaderElector
    kube: FaultyKube
    clock: SimClock
    task: asyncio.Task[None] | None = None


@asynccontextmanager
async def replicas(
    tmp_path: Path, offsets: dict[str, float], *, election: LeaderElectionSettings,
    terms: Terms, qps: float = 1000, burst: int = 1000,
) -> AsyncIterator[tuple[SimulatedCluster, dict[str, Replica]]]:
    """One simulated cluster; an elector per identity, its wall clock `offset` seconds off."""
    async with SimulatedCluster(clock=SimClock(start=START)) as sim, AsyncExitStack() as stack:
        sim.ensure_namespaces("gitops-system")  # where the daemon runs
        path = sim.write_kubeconfig(tmp_path / "kubeconfig")
        config = KubernetesSettings(kubeconfig=path, qps=qps, burst=burst)
        found: dict[str, Replica] = {}
        for identity, offset in offsets.items():
            clock = SimClock(start=START + offset)
            kube = await stack.enter_async_context(
                FaultyKube.from_settings(config, clock=sim.clock))
            elector = LeaderElector(kube=kube, settings=election, clock=clock,
                                    identity=identity, **terms.callbacks(identity))
            found[identity] = Replica(elector, kube, clock)
        try:
            for replica in found.values():
                replica.task = asyncio.create_task(replica.elector.run())
            yield sim, found
        finally:
            for replica in found.values():
                if replica.task is not None:
                    replica.task.cancel()
            await asyncio.gather(*(r.task for r in found.values() if r.task is not None),
                                 return_exceptions=True)
            for replica in found.values():
                for task in list(replica.kube.in_flight):
                    task.cancel()
                await asyncio.gather(*replica.kube.in_flight, return_exceptions=True)
