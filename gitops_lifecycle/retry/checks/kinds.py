"""Which API resource a kind names, found through the server's discovery as kubectl finds it.

`pod`, `pods`, `po`, `Deployment`, `deploy.apps`, `deployments.v1.apps`, `certificate`,
`helmrelease.helm.toolkit.fluxcd.io`: the core group first, then every group in the order the
server lists them, each at its preferred version; custom resources are found like any other.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.retry.errors import NotReady

if TYPE_CHECKING:
    from gitops_lifecycle.retry.checks.kubeapi import Client


@dataclasses.dataclass(frozen=True)
class Kind:
    """An API resource: where it lives and what it is called."""

    group_version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def group(self) -> str:
        """The API group ('' for the core group)."""
        return self.group_version.rpartition("/")[0]


def split(text: str) -> tuple[str, str, str]:
    """`name[.version][.group]` as kubectl reads it: (name, version or '', group or '')."""
    name, _, rest = text.partition(".")
    version, dot, group = rest.partition(".")
    if dot and version[:1] == "v" and version[1:2].isdigit():
        return name.lower(), version, group.lower()
    return name.lower(), "", rest.lower()


def matches(row: dict[str, Any], name: str) -> bool:
    """Whether a discovery row is the resource `name` (plural, singular, kind or short name)."""
    names = {row.get("name", ""), row.get("singularName", ""), str(row.get("kind", "")).lower(),
             *(row.get("shortNames") or [])}
    return name in names


async def resolve(client: Client, text: str) -> Kind:
    """The resource `text` names; NotReady when the server does not serve it (yet)."""
    name, version, group = split(text)
    for group_version in await _candidates(client, group, version):
        found = await _find(client, group_version, name)
        if found is not None:
            return found
    raise NotReady(f"the server has no resource type {text!r} (yet)")


async def _candidates(client: Client, group: str, version: str) -> list[str]:
    """Group/versions to look in, in kubectl's order of priority."""
    if version:
        return [f"{group}/{version}" if group else version]
    candidates = [] if group else ["v1"]
    groups = await client.get("/apis") or {}
    for entry in groups.get("groups") or []:
        if group and entry.get("name") != group:
            continue
        preferred = (entry.get("preferredVersion") or {}).get("groupVersion")
        if preferred:
            candidates.append(preferred)
    return candidates


async def _find(client: Client, group_version: str, name: str) -> Kind | None:
    from gitops_lifecycle.retry.checks.kubeapi import api_path

    listing = await client.get(api_path(group_version)) or {}
    for row in listing.get("resources") or []:
        if "/" not in row.get("name", "/") and matches(row, name):
            return Kind(group_version=group_version, plural=row["name"], kind=row["kind"],
                        namespaced=bool(row.get("namespaced")))
    return None
