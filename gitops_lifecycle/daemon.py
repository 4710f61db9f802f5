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
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.discovery import wiring as discovery
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ForbiddenError, KubeError
from gitops_lifecycle.kube.events import EventRecorder
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.leader import Flag, LeaderElector, Term, default_identity
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
                page_size=scope.page_size,
                # In the daemon's time: a demo's faster clock must not see events minutes late.
                batch_window=scope.watch_batch_window / self.clock.speed,
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
    term: Term | None = None
    """This replica's term of leadership, that every write runs within (None: no election)."""
    guard: BlastRadiusGuard | None = None
    """The one blast-radius guard every deletion path passes (cleanup and discovery)."""


def controllers(m: Machinery) -> list[Component]:
    """Every controller, each run only while this replica leads."""
    return [
        *cleanup.controllers(kube=m.kube, settings=m.settings, clock=m.clock,
                             informers=m.informers, events_sink=m.events, term=m.term,
                             guard=m.guard),
        RetryMetrics(pods=m.informers(PODS, Pod), clock=m.clock),
        *discovery.controllers(kube=m.kube, settings=m.settings, clock=m.clock,
                               health=m.health, informers=m.informers, events=m.events,
                               term=m.term, guard=m.guard),
    ]


ControllerFactory = Callable[[Machinery], Iterable[Component]]


class Leadership(Protocol):
    """Whether this replica leads (a `LeaderElector`)."""

    @property
    def is_leader(self) -> Flag: ...


RESTART_BASE = 1.0
"""Seconds before restarting a controller that an API error ended, doubling per failure."""
RESTART_CAP = 60.0


def transient(exc: BaseException) -> bool:
    """Whether `exc` (or every exception in a group) is an API error that may heal."""
    if isinstance(exc, BaseExceptionGroup):
        return all(transient(inner) for inner in exc.exceptions)
    return isinstance(exc, KubeError | TimeoutError)


class WhileLeading:
    """Runs a controller while this replica leads; cancels it when leadership is lost.

    A controller ended by an API error (which the controllers normally retry themselves) is
    restarted with backoff: a transient error never ends the daemon. Any other crash is a
    bug and ends it, as the manager reports.
    """

    def __init__(self, component: Component, elector: Leadership | None) -> None:
        self.name = component.name
        self._component = component
        self._elector = elector
        self._running = False
        self._restarts = 0
        self._last_error: str | None = None

    async def run(self) -> None:
        """Run the controller in every term of leadership; a bug's crash ends this too."""
        while True:
            if self._elector is not None:
                await self._elector.is_leader.wait_true()
            try:
                if await self._term(self._elector):
                    return
            except Exception as exc:
                if not transient(exc):
                    raise
                await self._restart_later(exc)

    async def _restart_later(self, exc: BaseException) -> None:
        delay = min(RESTART_CAP, RESTART_BASE * 2.0 ** min(self._restarts, 16))
        self._restarts += 1
        self._last_error = str(exc)
        log.warning("controller ended by an API error; restarting", controller=self.name,
                    error=str(exc), retry_in=delay)
        await asyncio.sleep(delay)

    def readiness(self) -> str | None:
        """The controller's own readiness while it runs; a recent crash while it restarts."""
        if self._last_error is not None and not self._running:
            return f"restarting after an API error: {self._last_error}"
        check = getattr(self._component, "readiness", None)
        return check() if self._running and check is not None else None

    async def _term(self, elector: Leadership | None) -> bool:
        """One term: whether the controller ended on its own (rather than by losing the lead)."""
        work = asyncio.create_task(self._component.run(), name=self.name)
        waiting = {work}
        if elector is not None:
            waiting.add(asyncio.create_task(elector.is_leader.wait_false()))
        self._running = True
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._running = False
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        if work.cancelled():
            log.info("controller paused: not leading", controller=self.name)
            return False
        work.result()  # re-raises the controller's crash
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
                          informers=informers, events=events, identity=identity,
                          term=elector.term if elector is not None else None,
                          guard=BlastRadiusGuard(settings.cleanup.blast_radius, clock))
    built = [c for factory in factories for c in factory(machinery)]
    gated = [WhileLeading(c, elector) for c in built]
    for component in gated:
        health.readiness(f"controller:{component.name}", component.readiness)
    return [server, events, *informers.made.values(), *([elector] if elector else []), *gated]


async def _forbidden(kube: Kube, built: Iterable[Component]) -> list[str]:
    """Resources the informers must list that RBAC forbids (403): what cannot heal.

    Anything else (5xx, 429, timeouts) is left to the informers' own retries.
    """
    found = []
    for component in built:
        if not isinstance(component, Informer):
            continue
        namespaces = component.namespaces_watched
        try:
            await kube.list_page(component.resource, record=Any, limit=1,
                                 namespace=namespaces[0] if namespaces else None)
        except ForbiddenError as exc:
            found.append(f"list {component.resource.plural}: {exc.message}")
        except KubeError:
            continue
    return found


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
                built = components(settings, health, kube=kube, clock=clock)
                if forbidden := await _forbidden(kube, built):
                    log.error("RBAC forbids what the daemon needs; it cannot work until the "
                              "ClusterRole allows it", forbidden=forbidden)
                    return 1
                for component in built:
                    manager.add(component)
                return await manager.run(stop)
        except KubeError as exc:
            log.error("cannot reach the Kubernetes API", error=str(exc))  # noqa: TRY400 - the message is the whole story
            return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
