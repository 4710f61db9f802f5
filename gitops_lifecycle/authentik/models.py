"""The Authentik objects we read, decoded from the API's JSON (unknown fields ignored)."""

from __future__ import annotations

import msgspec


class Model(msgspec.Struct, kw_only=True, frozen=True):
    """Base of every Authentik object we read."""


class Provider(Model, frozen=True):
    """A proxy provider (`/api/v3/providers/proxy/`)."""

    pk: int
    name: str
    authorization_flow: str | None = None
    invalidation_flow: str | None = None
    external_host: str = ""
    internal_host: str | None = None
    internal_host_ssl_validation: bool | None = None
    skip_path_regex: str | None = None
    basic_auth_enabled: bool | None = None
    mode: str | None = None
    cookie_domain: str | None = None
    assigned_application_slug: str | None = None
    outpost_set: list[str] = []


class Application(Model, frozen=True):
    """An application (`/api/v3/core/applications/`), addressed by its slug."""

    pk: str
    name: str
    slug: str
    provider: int | None = None
    meta_launch_url: str | None = None
    meta_publisher: str | None = None
    group: str | None = None


class Outpost(Model, frozen=True):
    """An outpost (`/api/v3/outposts/instances/`); `providers` is replaced whole on PATCH."""

    pk: str
    name: str
    providers: list[int] = []
    managed: str | None = None


class Flow(Model, frozen=True):
    """A flow (`/api/v3/flows/instances/`): we only need slug → pk."""

    pk: str
    slug: str


class Pagination(Model, frozen=True):
    """Authentik's page information; `next` is 0 on the last page."""

    next: int = 0
    count: int = 0
    current: int = 1
    total_pages: int = 1


EMBEDDED_OUTPOST = "goauthentik.io/outposts/embedded"
"""The `managed` value of the embedded outpost every Authentik has."""
