"""Service discovery running against the simulated cluster and the simulated Authentik."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_lifecycle import crds
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.discovery.records import ProxyConfig
from gitops_lifecycle.discovery.wiring import ServiceDiscovery
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.leader import Term
from gitops_lifecycle.kube.resources import PROXYCONFIGS
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

CLUSTER = "test"
PC = "gitops.io/v1"


def settings(authentik: SimulatedAuthentik, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "kubernetes": {"leaderElection": {"enabled": False}},
        "authentik": {"url": authentik.url, "token": authentik.token, "clusterName": CLUSTER},
        "retry": {"circuitBreaker": {"failureThreshold": 3, "recoveryTimeout": "30s"}},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value}
    return Settings.model_validate(base)


def proxyconfig(name: str, namespace: str = "apps", **spec: Any) -> dict[str, Any]:
    config = spec.pop("config", {})
    body = {
        "serviceName": name, "externalHost": f"https://{name}.example.com",
        "authentikConfig": {"providerName": name, **config}, **spec,
    }
    return {"apiVersion": PC, "kind": "ProxyConfig",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


@dataclass
class RecordedEvents:
    """Stands in for the Kubernetes Event recorder and remembers what it was asked."""

    recorded: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def record(self, involved: Any, *, type: str, reason: str, message: str) -> None:  # noqa: A002
        self.recorded.append((involved.kind, involved.name, type, reason, message))

    def reasons(self, name: str) -> list[str]:
        return [reason for _, n, _, reason, _ in self.recorded if n == name]


@dataclass
class Running:
    sim: SimulatedCluster
    authentik: SimulatedAuthentik
    discovery: ServiceDiscovery
    informer: Informer[ProxyConfig]
    kube: Kube
    events: RecordedEvents

    def get(self, name: str, namespace: str = "apps") -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.sim.get(PC, "ProxyConfig", name, namespace)
        return found

    def status(self, name: str, namespace: str = "apps") -> dict[str, Any]:
        obj = self.get(name, namespace) or {}
        status: dict[str, Any] = obj.get("status") or {}
        return status

    def phase(self, name: str, namespace: str = "apps") -> str | None:
        return self.status(name, namespace).get("phase")

    def condition(self, name: str, kind: str = "Ready", namespace: str = "apps") -> dict[str, Any]:
        for condition in self.status(name, namespace).get("conditions", []):
            if condition["type"] == kind:
                return dict(condition)
        return {}

    async def until(self, check: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Wait (in loop time) until `check()` is truthy."""
        async with asyncio.timeout(timeout):
            while not (result := check()):
                await asyncio.sleep(0.05)
            return result

    async def ready(self, *names: str, namespace: str = "apps") -> None:
        await self.until(lambda: all(self.phase(n, namespace) == "Ready" for n in names))

    def writes(self) -> list[Any]:
        return list(self.authentik.writes())


def install_crd(sim: SimulatedCluster) -> None:
    with contextlib.suppress(Exception):
        sim.create(crds.load())


@contextlib.asynccontextmanager
async def running(sim: SimulatedCluster, authentik: SimulatedAuthentik, tmp_path: Path,
                  config: Settings, term: Term | None = None,
                  ) -> AsyncIterator[Running]:
    install_crd(sim)
    path = sim.write_kubeconfig(tmp_path / "kubeconfig")
    kube_settings = config.kubernetes.model_copy(update={"kubeconfig": path, "qps": 1000,
                                                         "burst": 1000})
    assert isinstance(sim.clock, SimClock)
    async with Kube.from_settings(kube_settings, clock=sim.clock) as kube:
        scope = config.kubernetes  # as the daemon's shared informers watch
        informer: Informer[ProxyConfig] = Informer(
            kube=kube, resource=PROXYCONFIGS, record=ProxyConfig, clock=sim.clock,
            namespaces=scope.namespaces, label_selector=scope.label_selector,
            field_selector=scope.field_selector)
        events = RecordedEvents()
        component = ServiceDiscovery(kube=kube, settings=config, clock=sim.clock, health=None,
                                     proxyconfigs=informer, events=events,  # type: ignore[arg-type]
                                     term=term)
        tasks = [asyncio.create_task(informer.run()), asyncio.create_task(component.run())]
        try:
            yield Running(sim, authentik, component, informer, kube, events)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
