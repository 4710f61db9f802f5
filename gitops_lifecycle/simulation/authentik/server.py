"""`SimulatedAuthentik`: the API server and a Python API for tests, `simulate` and the demo."""

from __future__ import annotations

import builtins
import copy
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from gitops_lifecycle.clock import Clock, SimClock
from gitops_lifecycle.simulation.authentik import (
    applications,
    control,
    outposts,
    providers,
    schema,
)
from gitops_lifecycle.simulation.authentik.faults import AuthentikFaults, AuthentikRequest
from gitops_lifecycle.simulation.authentik.routes import AuthentikApi
from gitops_lifecycle.simulation.authentik.state import (
    AUTHORIZATION_FLOW,
    INVALIDATION_FLOW,
    Obj,
    State,
    User,
)

VERSION = "2026.8.5"


class SimulatedAuthentik:
    """Authentik's REST API (the parts a proxy-provider controller uses) in the event loop.

    A fresh instance looks like a fresh Authentik: the default flows, the embedded outpost
    with no providers, and one API token (`token`) of a superuser service account. The
    Python methods apply the same rules as the HTTP API (they raise `AuthentikError` where
    the API answers 400) and return copies, so a caller's edits never leak into the state.
    """

    def __init__(
        self, clock: Clock | None = None, *, token: str | None = None,
        version: str = VERSION, validate_schema: schema.SchemaMode = "auto",
    ) -> None:
        self.clock = clock or SimClock()
        self.state = State()
        self.state.install_defaults()
        self.token = token or secrets.token_urlsafe(32)
        self.state.tokens[self.token] = User(pk=2, username="gitops-lifecycle",
                                             name="gitops-lifecycle")
        self.faults = AuthentikFaults(revoke=self._revoke)
        self.api = AuthentikApi(state=self.state, faults=self.faults, clock=self.clock,
                                version=version,
                                validate_schema=schema.resolve(validate_schema))
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def validates_schema(self) -> bool:
        """Whether request bodies are checked against authentik-client's models."""
        return self.api.validate_schema

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SimulatedAuthentik:
        """Listen on `host:port` (0 picks a free port); `url` says where."""
        app = self.api.app(control.Control(self).routes())
        self._runner = web.AppRunner(app, handler_cancellation=True,
                                     access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        address = self._runner.addresses[0]
        self.url = f"http://{address[0]}:{address[1]}"
        return self

    async def stop(self) -> None:
        """Stop listening (the state is kept: `start` again serves it)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def write_credentials(self, directory: Path | str) -> dict[str, Path]:
        """Write `authentik-url`, `authentik-token` (owner-only) and `authentik.env` into
        `directory`, for a daemon started separately (its settings `authentik.url` and
        `authentik.tokenFile`; the env file names them as environment variables)."""
        target = Path(directory).absolute()
        target.mkdir(parents=True, exist_ok=True)
        written = {"url": target / "authentik-url", "token": target / "authentik-token",
                   "env": target / "authentik.env"}
        written["url"].write_text(f"{self.url}\n")
        for key in ("token", "env"):
            written[key].touch(mode=0o600)
            written[key].chmod(0o600)
        written["token"].write_text(f"{self.token}\n")
        written["env"].write_text(f"GITOPS_LIFECYCLE_AUTHENTIK__URL={self.url}\n"
                                  f"GITOPS_LIFECYCLE_AUTHENTIK__TOKENFILE={written['token']}\n")
        return written

    # -- tokens ---------------------------------------------------------------------------

    def add_token(self, token: str | None = None, *, username: str = "akadmin") -> str:
        """Another valid API token (e.g. a rotated one); returns it."""
        value = token or secrets.token_urlsafe(32)
        self.state.tokens[value] = User(pk=len(self.state.tokens) + 2, username=username,
                                        name=username)
        return value

    def _revoke(self, token: str) -> None:
        self.state.tokens.pop(token, None)

    # -- reading --------------------------------------------------------------------------

    @property
    def requests(self) -> list[AuthentikRequest]:
        """Every HTTP request so far, in order."""
        return self.api.requests

    def providers(self) -> builtins.list[Obj]:
        """Every proxy provider, by pk."""
        return [_copy(p) for pk, p in sorted(self.state.providers.items())
                if p["type"] == "proxy"]

    def provider(self, name_or_pk: str | int) -> Obj | None:
        """A provider of any type, by name or pk, or None."""
        found = self.state.providers.get(name_or_pk) if isinstance(name_or_pk, int) else \
            self.state.provider_named(name_or_pk)
        return None if found is None else _copy(found)

    def applications(self) -> builtins.list[Obj]:
        """Every application."""
        return [_copy(a) for a in self.state.applications.values()]

    def application(self, slug: str) -> Obj | None:
        """The application with this slug, or None."""
        found = self.state.application_by_slug(slug)
        return None if found is None else _copy(found)

    def outposts(self) -> builtins.list[Obj]:
        """Every outpost."""
        return [_copy(o) for o in self.state.outposts.values()]

    def outpost(self, name: str | None = None) -> Obj:
        """The outpost with this name, or the embedded one (KeyError if none)."""
        found = self.state.embedded_outpost() if name is None else next(
            (o for o in self.state.outposts.values() if o["name"] == name), None)
        if found is None:
            raise KeyError(name or "embedded outpost")
        return _copy(found)

    def flow(self, slug: str) -> Obj | None:
        """The flow with this slug, or None."""
        found = self.state.flow_by_slug(slug)
        return None if found is None else _copy(found)

    def writes(self) -> builtins.list[AuthentikRequest]:
        """The requests so far that could change something (POST, PUT, PATCH, DELETE)."""
        return [r for r in self.requests if r.write]

    # -- seeding and editing by hand ------------------------------------------------------

    def create_provider(self, name: str, external_host: str, **fields: Any) -> Obj:
        """A proxy provider as a person makes it in the admin interface (no marker).

        The default flows are used unless given; `mode` defaults to `forward_single`.
        """
        body = {"name": name, "external_host": external_host, "mode": "forward_single",
                "authorization_flow": self._flow_pk(AUTHORIZATION_FLOW),
                "invalidation_flow": self._flow_pk(INVALIDATION_FLOW), **fields}
        return _copy(providers.create(self.state, body))

    def create_other_provider(self, name: str, type_: str = "oauth2") -> Obj:
        """A provider of another type (only in `/providers/all/`); names are shared."""
        body = {"name": name, "external_host": "https://unused.invalid", "mode": "forward_single",
                "authorization_flow": self._flow_pk(AUTHORIZATION_FLOW),
                "invalidation_flow": self._flow_pk(INVALIDATION_FLOW)}
        return _copy(providers.create(self.state, body, type_=type_))

    def edit_provider(self, name_or_pk: str | int, **fields: Any) -> Obj:
        """Change a provider by hand (as the admin interface sends it: a full update)."""
        current = self._stored_provider(name_or_pk)
        body = {k: v for k, v in current.items() if k in providers.WRITABLE} | fields
        return _copy(providers.update(self.state, current, body, partial=False))

    def delete_provider(self, name_or_pk: str | int) -> None:
        """Delete a provider by hand."""
        providers.delete(self.state, self._stored_provider(name_or_pk)["pk"])

    def create_application(self, slug: str, *, name: str | None = None,
                           provider: str | int | None = None, **fields: Any) -> Obj:
        """An application; `provider` by name or pk."""
        pk = self._stored_provider(provider)["pk"] if provider is not None else None
        body = {"name": name or slug, "slug": slug, "provider": pk, **fields}
        return _copy(applications.create(self.state, body))

    def edit_application(self, slug: str, **fields: Any) -> Obj:
        """Change an application by hand (a PATCH)."""
        current = self.state.application_by_slug(slug)
        if current is None:
            raise KeyError(slug)
        return _copy(applications.update(self.state, current, fields, partial=True))

    def create_outpost(self, name: str, providers: Iterable[str | int] = ()) -> Obj:
        """Another proxy outpost with these providers (by name or pk)."""
        pks = [self._stored_provider(p)["pk"] for p in providers]
        body = {"name": name, "type": "proxy", "providers": pks, "config": {}}
        if not pks:
            created = self.state.add_outpost(name)
            return _copy(created)
        return _copy(outposts.create(self.state, body))

    def set_outpost_providers(self, providers: Iterable[str | int], *,
                              outpost: str | None = None) -> Obj:
        """Replace an outpost's providers by hand (the embedded one by default)."""
        current = self.state.outposts[self.outpost(outpost)["pk"]]
        pks = [self._stored_provider(p)["pk"] for p in providers]
        return _copy(outposts.update(self.state, current, {"providers": pks}, partial=True))

    def add_flow(self, slug: str, designation: str = "authorization") -> Obj:
        """Another flow."""
        return _copy(self.state.add_flow(slug, designation))

    def _flow_pk(self, slug: str) -> str:
        found = self.state.flow_by_slug(slug)
        if found is None:
            raise KeyError(slug)
        return str(found["pk"])

    def _stored_provider(self, name_or_pk: str | int) -> Obj:
        found = self.state.providers.get(name_or_pk) if isinstance(name_or_pk, int) else \
            self.state.provider_named(name_or_pk)
        if found is None:
            raise KeyError(name_or_pk)
        return found


def _copy(obj: Obj) -> Obj:
    return {k: v for k, v in copy.deepcopy(obj).items() if k != "cookie_secret"}
