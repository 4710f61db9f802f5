"""The Kubernetes objects service discovery reads: ProxyConfigs, Services, its ConfigMap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import PROXYCONFIGS

FINALIZER = "gitops.io/authentik-cleanup"


class ProxyConfig(Object, frozen=True):
    """A ProxyConfig as the API serves it; the spec is checked by `discovery.spec`."""

    spec: Any = None
    status: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def provider_name(self) -> str:
        """`spec.authentikConfig.providerName` if it is a string, else ""."""
        spec = self.spec if isinstance(self.spec, dict) else {}
        config = spec.get("authentikConfig")
        name = config.get("providerName") if isinstance(config, dict) else None
        return name if isinstance(name, str) else ""

    @property
    def recorded_provider(self) -> int | None:
        """The provider pk this ProxyConfig's status says we created or adopted."""
        pk = self.status.get("authentikProviderId")
        return pk if isinstance(pk, int) and not isinstance(pk, bool) else None


class ConfigMap(Object, frozen=True):
    data: dict[str, str] = msgspec.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ref:
    """What a Kubernetes Event is about (the `Involved` shape)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str


def reference(obj: ProxyConfig) -> Ref:
    meta = obj.metadata
    return Ref(PROXYCONFIGS.api_version, PROXYCONFIGS.kind, meta.namespace, meta.name, meta.uid)
