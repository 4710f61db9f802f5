"""What the simulated Authentik holds: providers, applications, outposts, flows, tokens.

Objects are stored as plain dicts in their API field names; `present` shapes them for
answers. Providers of every type share one table and one pk sequence, as in Authentik
(multi-table inheritance from `Provider`), which is why names are unique across types.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

EMBEDDED_OUTPOST = "goauthentik.io/outposts/embedded"
EMBEDDED_OUTPOST_NAME = "authentik Embedded Outpost"
AUTHORIZATION_FLOW = "default-provider-authorization-implicit-consent"
INVALIDATION_FLOW = "default-provider-invalidation-flow"

# Flows a fresh Authentik has from its default blueprints: slug -> designation.
DEFAULT_FLOWS = {
    "default-authentication-flow": "authentication",
    "default-invalidation-flow": "invalidation",
    "default-provider-authorization-explicit-consent": "authorization",
    AUTHORIZATION_FLOW: "authorization",
    INVALIDATION_FLOW: "invalidation",
}

# The managed scope mappings `ProxyProvider.set_oauth_defaults` adds on every save.
PROXY_SCOPES = (
    "goauthentik.io/providers/oauth2/scope-openid",
    "goauthentik.io/providers/oauth2/scope-profile",
    "goauthentik.io/providers/oauth2/scope-email",
    "goauthentik.io/providers/oauth2/scope-entitlements",
    "goauthentik.io/providers/proxy/scope-proxy",
)


def new_uuid() -> str:
    """A fresh UUID in the API's text form."""
    return str(uuid.uuid4())


@dataclass
class User:
    """The user a token authenticates as."""

    pk: int
    username: str
    name: str
    is_superuser: bool = True


@dataclass
class State:
    """Every object of the simulated Authentik, keyed by pk."""

    providers: dict[int, Obj] = field(default_factory=dict)
    applications: dict[str, Obj] = field(default_factory=dict)
    outposts: dict[str, Obj] = field(default_factory=dict)
    flows: dict[str, Obj] = field(default_factory=dict)
    scope_mappings: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, User] = field(default_factory=dict)
    next_provider_pk: int = 1
    _version: int = 0
    _indexes: tuple[int, dict[str, Obj], dict[str, Obj], dict[int, Obj]] | None = None

    def touch(self) -> None:
        """Say that providers or applications changed (the lookup indexes are rebuilt)."""
        self._version += 1

    # -- lookups --------------------------------------------------------------------------

    def provider_named(self, name: str) -> Obj | None:
        """The provider of any type with this name (names are unique), or None."""
        return self._index()[1].get(name)

    def application_by_slug(self, slug: str) -> Obj | None:
        """The application with this slug, or None."""
        return self._index()[2].get(slug)

    def application_of(self, provider_pk: int) -> Obj | None:
        """The application linked to a provider (at most one), or None."""
        return self._index()[3].get(provider_pk)

    def _index(self) -> tuple[int, dict[str, Obj], dict[str, Obj], dict[int, Obj]]:
        if self._indexes is None or self._indexes[0] != self._version:
            self._indexes = (
                self._version,
                {p["name"]: p for p in self.providers.values()},
                {a["slug"]: a for a in self.applications.values()},
                {a["provider"]: a for a in self.applications.values()
                 if a["provider"] is not None},
            )
        return self._indexes

    def flow_by_slug(self, slug: str) -> Obj | None:
        """The flow with this slug, or None."""
        return next((f for f in self.flows.values() if f["slug"] == slug), None)

    def outposts_with(self, provider_pk: int) -> list[Obj]:
        """The outposts whose `providers` include this provider."""
        return [o for o in self.outposts.values() if provider_pk in o["providers"]]

    def embedded_outpost(self) -> Obj | None:
        """The embedded outpost, or None if it was deleted."""
        return next((o for o in self.outposts.values() if o.get("managed") == EMBEDDED_OUTPOST),
                    None)

    # -- the defaults of a fresh installation ---------------------------------------------

    def install_defaults(self) -> None:
        """The flows, scope mappings and embedded outpost a fresh Authentik starts with."""
        for slug, designation in DEFAULT_FLOWS.items():
            self.add_flow(slug, designation)
        for managed in PROXY_SCOPES:
            self.scope_mappings[new_uuid()] = managed
        self.add_outpost(EMBEDDED_OUTPOST_NAME, managed=EMBEDDED_OUTPOST)

    def add_flow(self, slug: str, designation: str, *, name: str | None = None) -> Obj:
        """Store a flow; its pk is a new UUID."""
        pk = new_uuid()
        title = name or slug.replace("-", " ").title()
        flow = {"pk": pk, "policybindingmodel_ptr_id": pk, "name": title, "slug": slug,
                "title": title, "designation": designation}
        self.flows[pk] = flow
        return flow

    def add_outpost(self, name: str, *, managed: str | None = None, type_: str = "proxy",
                    providers: list[int] | None = None) -> Obj:
        """Store an outpost; its pk is a new UUID."""
        pk = new_uuid()
        outpost = {"pk": pk, "name": name, "type": type_, "providers": list(providers or []),
                   "service_connection": None, "managed": managed,
                   "config": {"authentik_host": "", "log_level": "info",
                              "refresh_interval": "minutes=5", "docker_labels": None,
                              "object_naming_template": "ak-outpost-%(name)s"}}
        self.outposts[pk] = outpost
        return outpost

    def take_provider_pk(self) -> int:
        """The next provider pk (shared by every provider type)."""
        pk = self.next_provider_pk
        self.next_provider_pk += 1
        return pk
