"""The cleanup controllers running against the simulated cluster, as the daemon runs them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_lifecycle.cleanup import wiring
from gitops_lifecycle.cleanup.deleter import Deleter
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.leader import Term
from gitops_lifecycle.kube.records import R
from gitops_lifecycle.kube.resources import Resource
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster


@dataclass
class RecordedEvents:
    """Stands in for the Kubernetes Event recorder and remembers what it was asked."""

    recorded: list[tuple[str, str, str, str]] = field(default_factory=list)

    def record(self, involved: Any, *, type: str, reason: str, message: str) -> None:  # noqa: A002
        self.recorded.append((involved.kind, involved.name, reason, message))


@dataclass
class Running:
    sim: SimulatedCluster
    clock: SimClock
    kube: Kube
    informers: dict[str, Informer[Any]]
    events: RecordedEvents
    components: list[Any]

    @property
    def deleter(self) -> Deleter:
        return next(c.deleter for c in self.components if hasattr(c, "deleter"))

    def names(self, api_version: str, kind: str) -> set[str]:
        return {obj["metadata"]["name"] for obj in self.sim.list(api_version, kind)}

    def deletes(self, plural: str) -> list[Any]:
        return [r for r in self.sim.requests if r.method == "DELETE" and f"/{plural}/" in r.path]

    def lists(self, plural: str) -> list[Any]:
        return [r for r in self.sim.requests
                if r.method == "GET" and not r.watch and r.path.endswith(f"/{plural}")]


def settings(**cleanup: Any) -> Settings:
    """Settings with the given `cleanup` section and leader election off."""
    base: dict[str, Any] = {"kubernetes": {"leaderElection": {"enabled": False}}}
    base["cleanup"] = cleanup
    return Settings.model_validate(base)


@contextlib.asynccontextmanager
async def running(
    sim: SimulatedCluster, tmp_path: Path, config: Settings, *, start: bool = True,
    term: Term | None = None,
) -> AsyncIterator[Running]:
    """Informers and the enabled cleanup controllers, running until the block ends."""
    path = sim.write_kubeconfig(tmp_path / "kubeconfig")
    kube_settings = config.kubernetes.model_copy(update={"kubeconfig": path})
    assert isinstance(sim.clock, SimClock)
    informers: dict[str, Informer[Any]] = {}
    events = RecordedEvents()
    async with Kube.from_settings(kube_settings, clock=sim.clock) as kube:

        def informer(resource: Resource, record: type[R]) -> Informer[R]:
            if resource.plural not in informers:
                informers[resource.plural] = Informer(
                    kube=kube, resource=resource, record=record, clock=sim.clock,
                    namespaces=config.kubernetes.namespaces,
                )
            found: Informer[R] = informers[resource.plural]
            return found

        components = wiring.controllers(
            kube=kube, settings=config, clock=sim.clock, informers=informer, events_sink=events,
            term=term,
        )
        tasks = [asyncio.create_task(c.run(), name=c.name)
                 for c in [*informers.values(), *components]] if start else []
        try:
            yield Running(sim, sim.clock, kube, informers, events, components)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]


@contextlib.asynccontextmanager
async def cluster(clock: SimClock | None = None, **kwargs: Any) -> AsyncIterator[SimulatedCluster]:
    """A started simulated cluster on a simulated clock."""
    sim = SimulatedCluster(clock or SimClock(), **kwargs)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
