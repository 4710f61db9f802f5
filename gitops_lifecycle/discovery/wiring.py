"""Builds service discovery from the settings: one component holding the Authentik session.

It runs the ProxyConfig controller, the Service controller and, after every complete listing
of Authentik, the orphaned-provider sweep; only while this replica leads (the ProxyConfig
informer is shared and runs on every replica, so a standby's cache is warm).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from gitops_lifecycle import logs
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.discovery.controller import ProxyConfigController
from gitops_lifecycle.discovery.orphans import OrphanCollector
from gitops_lifecycle.discovery.records import ProxyConfig
from gitops_lifecycle.discovery.services import SELECTOR, ServiceController
from gitops_lifecycle.discovery.term import Term, gate
from gitops_lifecycle.discovery.view import View
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.events import EventRecorder
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Object, R
from gitops_lifecycle.kube.resources import PROXYCONFIGS, SERVICES, Resource
from gitops_lifecycle.manager import Component
from gitops_lifecycle.settings import Settings

log = logs.get("discovery")


class Informers(Protocol):
    def __call__(self, resource: Resource, record: type[R]) -> Informer[R]: ...


class ServiceDiscovery:
    """A `Component`: the Authentik session and everything that uses it."""

    name = "service-discovery"

    def __init__(  # noqa: PLR0913 - the machinery it is built from
        self, *, kube: Kube, settings: Settings, clock: Clock, health: Health | None,
        proxyconfigs: Informer[ProxyConfig], events: EventRecorder | None = None,
        client: Authentik | None = None, term: Term = None,
        guard: BlastRadiusGuard | None = None,
    ) -> None:
        """`guard` is the blast-radius guard shared with cleanup (one count of deletions)."""
        self.client = client or Authentik.from_settings(settings.authentik,
                                                        settings.retry.circuit_breaker)
        if term is not None:  # every write to Authentik, deletions or not, within the term
            self.client.gate = gate(term)
        self.guard = guard or BlastRadiusGuard(settings.cleanup.blast_radius, clock)
        self.controller = ProxyConfigController(
            kube=kube, client=self.client, informer=proxyconfigs, settings=settings,
            clock=clock, events=events, term=term, guard=self.guard,
        )
        services: Informer[Object] = Informer(
            kube=kube, resource=SERVICES, record=Object, namespaces=settings.kubernetes.namespaces,
            label_selector=SELECTOR, clock=clock,
            batch_window=settings.kubernetes.watch_batch_window / clock.speed,
        )
        self.services = ServiceController(kube=kube, services=services,
                                          proxyconfigs=proxyconfigs, settings=settings,
                                          clock=clock, events=events, guard=self.guard, term=term)
        self.orphans = OrphanCollector(
            kube=kube, client=self.client, proxyconfigs=proxyconfigs, settings=settings,
            clock=clock, guard=self.guard,
            referenced=self.controller.referenced, term=term,
        )
        self.controller.after_listing = self._after_listing
        if health is not None:
            health.readiness("authentik", self._readiness)

    async def _after_listing(self, view: View) -> None:
        try:
            await self.orphans.sweep(view)
        except Exception:
            log.exception("orphaned-provider sweep failed; nothing more deleted this time")

    def _readiness(self) -> str | None:
        view = self.controller.view
        if view.complete or not view.error:
            return None
        return f"Authentik cannot be listed: {view.error}"

    async def run(self) -> None:
        async with self.client, asyncio.TaskGroup() as group:
            group.create_task(self.controller.run(), name=self.controller.name)
            group.create_task(self.services.run(), name=self.services.name)


def controllers(  # noqa: PLR0913 - the machinery it is built from
    *, kube: Kube, settings: Settings, clock: Clock, health: Health | None,
    informers: Informers, events: EventRecorder | None = None, term: Term = None,
    guard: BlastRadiusGuard | None = None,
) -> list[Component]:
    """Service discovery, when enabled and an Authentik token is configured."""
    if not settings.service_discovery.enabled:
        return []
    if not settings.authentik.configured():
        log.warning("service discovery is off: set authentik.token or authentik.tokenFile")
        return []
    return [ServiceDiscovery(kube=kube, settings=settings, clock=clock, health=health,
                             proxyconfigs=informers(PROXYCONFIGS, ProxyConfig), events=events,
                             term=term, guard=guard)]
