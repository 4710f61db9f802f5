"""Discovery documents: `/version`, `/api`, `/apis` and the group/version resource lists."""

from __future__ import annotations

from typing import Any

from gitops_lifecycle import __version__
from gitops_lifecycle.simulation.kubeapi.catalog import Catalog
from gitops_lifecycle.simulation.kubeapi.resources import VERBS

_SUBRESOURCE_VERBS = ["get", "patch", "update"]


def version() -> dict[str, Any]:
    """`/version`: a Kubernetes release the simulation models."""
    return {
        "major": "1", "minor": "31", "gitVersion": "v1.31.0-simulated",
        "gitCommit": __version__, "gitTreeState": "clean", "buildDate": "2024-08-13T00:00:00Z",
        "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64",
    }


def core_versions() -> dict[str, Any]:
    """`/api`."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "127.0.0.1"}]}


def _group(catalog: Catalog, name: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{name}/{v}", "version": v}
                for v in catalog.group_versions[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def group_list(catalog: Catalog) -> dict[str, Any]:
    """`/apis`."""
    groups = [_group(catalog, name) for name in catalog.group_versions if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(catalog: Catalog, name: str) -> dict[str, Any] | None:
    """`/apis/<group>`."""
    if not name or name not in catalog.group_versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(catalog, name)}


def resource_list(catalog: Catalog, group_name: str, version_name: str) -> \
        dict[str, Any] | None:
    """`/api/v1` or `/apis/<group>/<version>`: the resources, verbs and subresources."""
    rows: list[dict[str, Any]] = []
    for rt in catalog.resources:
        if (rt.group, rt.version) != (group_name, version_name):
            continue
        row = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
               "kind": rt.kind, "verbs": list(VERBS)}
        if rt.short_names:
            row["shortNames"] = list(rt.short_names)
        if rt.categories:
            row["categories"] = list(rt.categories)
        rows.append(row)
        if rt.status:
            rows.append({"name": f"{rt.plural}/status", "singularName": "",
                         "namespaced": rt.namespaced, "kind": rt.kind,
                         "verbs": _SUBRESOURCE_VERBS})
        if rt.scale is not None:
            rows.append({"name": f"{rt.plural}/scale", "singularName": "",
                         "namespaced": rt.namespaced, "group": "autoscaling",
                         "version": "v1", "kind": "Scale", "verbs": _SUBRESOURCE_VERBS})
        if rt.kind == "Pod" and not rt.group:
            rows.append({"name": "pods/eviction", "singularName": "", "namespaced": True,
                         "group": "policy", "version": "v1", "kind": "Eviction",
                         "verbs": ["create"]})
    if not rows:
        return None
    group_version = f"{group_name}/{version_name}" if group_name else version_name
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": rows}
