"""The demo's service-discovery act: ProxyConfigs into a simulated Authentik, and an orphan.

Three ProxyConfigs become providers, applications and outpost members; one provider that a
ProxyConfig deleted long ago left behind (it carries the demo cluster's marker) is collected
once `orphanedProviders.maxAge` has passed; a provider made by hand is never touched.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle import crds
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from gitops_lifecycle.simulation.narration import Narrator

CLUSTER = "demo"
ORPHAN_MAX_AGE = "1h"
APPS = (("grafana", "monitoring", 3000), ("prometheus", "monitoring", 9090),
        ("home-assistant", "home", 8123))


def proxyconfigs() -> list[dict[str, Any]]:
    """The demo's ProxyConfigs."""
    return [{
        "apiVersion": "gitops.io/v1", "kind": "ProxyConfig",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"serviceName": name, "serviceNamespace": namespace, "port": port,
                 "externalHost": f"https://{name}.example.com",
                 "authentikConfig": {"providerName": name}},
    } for name, namespace, port in APPS]


def seed(sim: SimulatedCluster, authentik: SimulatedAuthentik) -> int:
    """The CRD and ProxyConfigs in the cluster; an orphan and a hand-made provider in
    Authentik. How many ProxyConfigs."""
    sim.load_crds(crds.PROXYCONFIGS)  # the chart's CRD file (served already by default)
    for obj in proxyconfigs():
        sim.create(obj)
    orphan = authentik.create_provider("old-wiki", "https://wiki.example.com")
    authentik.create_application("old-wiki", provider=orphan["pk"],
                                 meta_publisher=f"gitops-lifecycle:{CLUSTER}:docs/old-wiki")
    authentik.create_provider("hand-made", "https://hand.example.com")
    return len(APPS)


def configure(settings: Settings, authentik: SimulatedAuthentik) -> Settings:
    """Point the daemon at the simulated Authentik, with a short orphan maxAge."""
    data = settings.model_dump(by_alias=False)
    data["authentik"].update(url=authentik.url, token=authentik.token, cluster_name=CLUSTER)
    policies = data["cleanup"]["controller"]["policies"]
    policies["orphaned_providers"]["max_age"] = ORPHAN_MAX_AGE
    return Settings.model_validate(data)


class AuthentikStory:
    """Tells each change the daemon made in Authentik, from the simulated server's log."""

    def __init__(self, authentik: SimulatedAuthentik, narrator: Narrator) -> None:
        self._authentik = authentik
        self._narrator = narrator
        self._seen = len(authentik.requests)
        self._names: dict[str, str] = {}
        self._learn_names()
        self.created = 0
        self.deleted = 0

    def _learn_names(self) -> None:
        for provider in self._authentik.providers():
            self._names[str(provider["pk"])] = provider["name"]

    def flush(self) -> None:
        self._learn_names()
        requests = self._authentik.requests
        for request in requests[self._seen:]:
            if request.method == "GET" or request.status is None or request.status >= 400:
                continue
            self._tell(request.method, request.path, request.body)
        self._seen = len(requests)

    def _tell(self, method: str, path: str, body: Any) -> None:
        what = "provider" if "/providers/" in path else \
            "application" if "/applications/" in path else "outpost"
        name = body.get("name") if isinstance(body, dict) else None
        key = path.rstrip("/").rsplit("/", 1)[-1]
        if name:
            self._names[key] = name
        if method == "POST":
            self.created += what == "provider"
            self._narrator.say(f"Authentik: created {what} {name!r}")
        elif method == "DELETE":
            self.deleted += what == "provider"
            self._narrator.say(f"Authentik: deleted {what} {self._names.get(key, key)!r}")
        elif what == "outpost" and isinstance(body, dict):
            self._narrator.say(f"Authentik: outpost now serves providers {body.get('providers')}")
        else:
            self._narrator.say(f"Authentik: updated {what} {key}: {sorted(body or {})}")

    def census(self) -> None:
        names = sorted(p["name"] for p in self._authentik.providers())
        self._narrator.say(f"Authentik now: {len(names)} providers ({', '.join(names)})")
