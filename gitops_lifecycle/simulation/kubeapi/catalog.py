"""What one simulated cluster serves: the built-in kinds and what its CRDs define.

Each cluster has its own catalog, as each real API server has its own CRDs: a CRD that is
established adds its served versions, a CRD that goes takes them away.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.kubeapi import apiextensions
from gitops_lifecycle.simulation.kubeapi.resources import RESOURCES, ResourceType, UnknownKindError

# The storage of each built-in resource, by storage key (its first version).
BUILTIN: dict[str, ResourceType] = {}
for _resource in RESOURCES:
    BUILTIN.setdefault(_resource.store_key, _resource)


class Catalog:
    """The served resources, looked up by URL path, by kind or by storage."""

    def __init__(self) -> None:
        self._custom: dict[str, list[ResourceType]] = {}  # by CRD name
        self._rebuild()

    def _rebuild(self) -> None:
        custom = [rt for name in sorted(self._custom) for rt in self._custom[name]]
        self.resources: list[ResourceType] = [*RESOURCES, *custom]
        self._by_path = {(r.group, r.version, r.plural): r for r in self.resources}
        self._by_kind = {(r.api_version, r.kind): r for r in self.resources}
        self._storage = dict(BUILTIN)
        for rt in custom:
            self._storage.setdefault(rt.store_key, rt)
        self.group_versions: dict[str, list[str]] = {}
        for rt in self.resources:
            versions = self.group_versions.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for group in {rt.group for rt in custom}:
            self.group_versions[group].sort(key=apiextensions.version_priority)

    # -- CRDs ------------------------------------------------------------------------------

    def define(self, crd: dict[str, Any]) -> None:
        """Serve what an established CRD defines (replacing what it defined before)."""
        name = crd["metadata"]["name"]
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in (crd.get("status") or {}).get("conditions") or ())
        if established:
            self._custom[name] = apiextensions.resource_types(crd)
        else:
            self._custom.pop(name, None)
        self._rebuild()

    def forget(self, name: str) -> None:
        """Stop serving what the CRD `name` defined."""
        if self._custom.pop(name, None) is not None:
            self._rebuild()

    def of_crd(self, name: str) -> list[ResourceType]:
        """The resources the CRD `name` serves."""
        return list(self._custom.get(name, ()))

    # -- lookups ---------------------------------------------------------------------------

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource at `/apis/<group>/<version>/<plural>`, if served."""
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType:
        """The resource of an `apiVersion` and `kind`; UnknownKindError if not served."""
        try:
            return self._by_kind[api_version, kind]
        except KeyError as exc:
            raise UnknownKindError(f"the server does not serve {kind} in {api_version}") \
                from exc

    def storage(self, store: str) -> ResourceType:
        """The resource that owns a storage key."""
        return self._storage[store]

    def storages(self) -> dict[str, ResourceType]:
        """Every storage key and its resource."""
        return dict(self._storage)

    def schema(self, rt: ResourceType) -> dict[str, Any] | None:
        """A custom resource's schema (`openAPIV3Schema` of its version)."""
        served = self._by_kind.get((rt.api_version, rt.kind))
        return None if served is None else served.schema

    def custom_schemas(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The schemas of custom resources, by (apiVersion, kind)."""
        return {(rt.api_version, rt.kind): rt.schema for rt in self.resources
                if not rt.builtin and rt.schema is not None}
