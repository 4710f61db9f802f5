"""Assembles the daemon: the server, informers, leader election, and the controllers.

Informers run on every replica so that a standby's caches are warm when it takes over;
controllers run only while this replica holds the leader Lease. A controller is any
`Component` built from the `Machinery`; adding one is one line in `controllers()`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.cleanup import wiring as cleanup
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import KubeError
from gitops_lifecycle.kube.events import EventRecorder
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.leader import Flag, LeaderElector, default_identity
from gitops_lifecycle.kube.records import Pod, R
from gitops_lifecycle.kube.resources import PODS, Resource
from gitops_lifecycle.manager import Component, Manager
from gitops_lifecycle.retry.observer import RetryMetrics
from gitops_lifecycle.server import ObservabilityServer
from gitops_lifecycle.settings import Settings

log = logs.get("daemon")


@dataclass
class SharedInformers:
    """One informer per resource, made on first request and shared by every controller."""

    kube: Kube
    settings: Settings
    clock: Clock
    health: Health
    made: dict[Resource, Informer[Any]] = field(default_factory=dict)

    def __call__(self, resource: Resource, record: type[R]) -> Informer[R]:
        """The informer of `resource`, decoding into `record` (the first caller's choice)."""
        if resource not in self.made:
            scope = self.settings.kubernetes
            self.made[resource] = Informer(
                kube=self.kube, resource=resource, record=record, clock=self.clock,
                health=self.health, namespaces=scope.namespaces,
                label_selector=scope.label_selector, field_selector=scope.field_selector,
            )
        informer: Informer[R] = self.made[resource]
        return informer


@dataclass(frozen=True)
class Machinery:
    """What controllers are built from."""

    settings: Settings
    kube: Kube
    clock: Clock
    health: Health
    informers: SharedInformers
    events: EventRecorder
    identity: str


def controllers(m: Machinery) -> list[Component]:
    """Every controller, each run only while this replica leads."""
    return [
        *cleanup.controllers(kube=m.kube, settings=m.settings, clock=m.clock,
                             informers=m.informers, events_sink=m.events),
        RetryMetrics(pods=m.informers(PODS, Pod), clock=m.clock),
    ]


ControllerFactory = Callable[[Machinery], Iterable[Component]]


class Leadership(Protocol):
    """Whether this replica leads (a `LeaderElector`)."""

    @property
    def is_leader(self) -> Flag: ...


class WhileLeading:
    """Runs a controller while this replica leads; cancels it when leadership is lost."""

    def __init__(self, component: Component, elector: Leadership | None) -> None:
        self.name = component.name
        self._component = component
        self._elector = elector

    async def run(self) -> None:
        """Run the controller in every term of leadership; its crash ends this too."""
        if self._elector is None:
            await self._component.run()
            return
        while True:
            await self._elector.is_leader.wait_true()
            if await self._term(self._elector):
                return

    async def _term(self, elector: Leadership) -> bool:
        """One term: whether the controller ended on its own (rather than by losing the lead)."""
        work = asyncio.create_task(self._component.run(), name=self.name)
        lost = asyncio.create_task(elector.is_leader.wait_false())
        try:
            await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (lost, work):
                task.cancel()
            await asyncio.gather(lost, work, return_exceptions=True)
        if work.cancelled():
            log.info("controller paused: not leading", controller=self.name)
            return False
        work.result()  # re-raises the controller's crash for the manager
        return True


def _real_time_clock(clock: Clock) -> Clock:
    # Leases measure whether a process is alive, and QPS limits protect the API server, both
    # in real time: a simulated clock running faster (the demo) would shrink a 15 s lease to
    # milliseconds and multiply the QPS. At speed 1 (virtual time in tests) it stays.
    return clock if clock.speed == 1 else Clock()


def components(
    settings: Settings, health: Health, *, kube: Kube | None = None, clock: Clock | None = None,
    factories: Iterable[ControllerFactory] = (controllers,),
) -> list[Component]:
    """Everything the daemon runs, in start order (the server first, controllers last)."""
    server: Component = ObservabilityServer(settings=settings.server, health=health)
    if kube is None:
        return [server]
    clock = clock or Clock()
    election = settings.kubernetes.leader_election
    identity = election.identity or default_identity()
    elector = None
    if election.enabled:
        elector = LeaderElector(kube=kube, settings=election, clock=_real_time_clock(clock),
                                identity=identity)
    events = EventRecorder(kube=kube, clock=clock, instance=identity)
    informers = SharedInformers(kube=kube, settings=settings, clock=clock, health=health)
    machinery = Machinery(settings=settings, kube=kube, clock=clock, health=health,
                          informers=informers, events=events, identity=identity)
    built = [c for factory in factories for c in factory(machinery)]
    gated: list[Component] = [WhileLeading(c, elector) for c in built]
    return [server, events, *informers.made.values(), *([elector] if elector else []), *gated]


async def run(settings: Settings, stop: asyncio.Event | None = None, *,
              clock: Clock | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop`); the exit code says whether a component died."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        metrics.initialise()
        health = Health()
        try:
            circuit = settings.retry.circuit_breaker
            client = Kube.from_settings(settings.kubernetes, circuit=circuit,
                                        clock=_real_time_clock(clock or Clock()),
                                        component="run")
            async with client as kube:
                manager = Manager(health=health, grace_period=settings.grace_period)
                for component in components(settings, health, kube=kube, clock=clock):
                    manager.add(component)
                return await manager.run(stop)
        except KubeError as exc:
            log.error("cannot reach the Kubernetes API", error=str(exc))  # noqa: TRY400 - the message is the whole story
            return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
