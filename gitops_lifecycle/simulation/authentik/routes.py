"""The aiohttp application: Authentik's URL layout under /api/v3, token auth, the log."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gitops_lifecycle.clock import Clock
from gitops_lifecycle.simulation.authentik import (
    applications,
    outposts,
    present,
    providers,
    schema,
)
from gitops_lifecycle.simulation.authentik.errors import (
    AuthentikError,
    FieldErrors,
    forbidden,
    invalid,
    not_found,
)
from gitops_lifecycle.simulation.authentik.faults import AuthentikFaults, AuthentikRequest
from gitops_lifecycle.simulation.authentik.listing import (
    Listing,
    exact,
    icontains,
    iexact,
    isnull,
    page,
)
from gitops_lifecycle.simulation.authentik.state import Obj, State, User

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v3"
_USER: contextvars.ContextVar[User] = contextvars.ContextVar("authentik_user")

PROXY_LISTING = Listing(filters={
    "application__isnull": isnull(lambda p: p["_app"] is None),
    "name__iexact": iexact("name"),
    "mode__iexact": iexact("mode"),
    "external_host__iexact": iexact("external_host"),
    "internal_host__iexact": iexact("internal_host"),
    "internal_host_ssl_validation__iexact": iexact("internal_host_ssl_validation"),
    "skip_path_regex__iexact": iexact("skip_path_regex"),
    "basic_auth_enabled__iexact": iexact("basic_auth_enabled"),
    "cookie_domain__iexact": iexact("cookie_domain"),
    "authorization_flow__slug__iexact": iexact("_authorization_flow_slug"),
})
ALL_PROVIDERS_LISTING = Listing(filters={
    "application__isnull": isnull(lambda p: p["_app"] is None),
})
APPLICATION_LISTING = Listing(
    filters={name: exact(name) for name in
             ("name", "slug", "meta_launch_url", "meta_description", "meta_publisher", "group")},
    search=("name", "slug", "meta_launch_url", "meta_description", "meta_publisher", "group"))
OUTPOST_LISTING = Listing(filters={
    "name__iexact": iexact("name"), "name__icontains": icontains("name"),
    "managed__iexact": iexact("managed"), "managed__icontains": icontains("managed"),
    "providers__isnull": isnull(lambda o: not o["providers"]),
    "providers_by_pk": lambda o, value: value.isdigit() and int(value) in o["providers"],
})
FLOW_LISTING = Listing(
    filters={"slug": exact("slug"), "name": exact("name"), "designation": exact("designation"),
             "flow_uuid": exact("pk")},
    search=("slug", "name", "title"), ordering=("slug",))


@dataclass
class AuthentikApi:
    """Serves the state over HTTP as Authentik's REST API."""

    state: State
    faults: AuthentikFaults
    clock: Clock
    version: str
    validate_schema: bool
    requests: list[AuthentikRequest] = field(default_factory=list)
    _detached: set[asyncio.Future[web.StreamResponse]] = field(default_factory=set)
    """Requests being carried out after their client gave up (kept until they finish)."""

    def app(self, control: Sequence[web.RouteDef] = ()) -> web.Application:
        """The aiohttp application (with `control` routes under /simulation/)."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_routes(control)
        add = app.router.add_route
        add("GET", "/-/health/live/", self._health)
        add("GET", "/-/health/ready/", self._health)
        add("*", f"{API}/providers/proxy/", self._proxy_collection)
        add("*", f"{API}/providers/proxy/{{pk}}/", self._proxy_item)
        add("*", f"{API}/providers/all/", self._all_collection)
        add("*", f"{API}/providers/all/{{pk}}/", self._all_item)
        add("*", f"{API}/core/applications/", self._application_collection)
        add("*", f"{API}/core/applications/{{slug}}/", self._application_item)
        add("*", f"{API}/outposts/instances/", self._outpost_collection)
        add("*", f"{API}/outposts/instances/{{pk}}/", self._outpost_item)
        add("*", f"{API}/flows/instances/", self._flow_collection)
        add("*", f"{API}/flows/instances/{{slug}}/", self._flow_item)
        add("*", f"{API}/core/users/me/", self._me)
        add("*", f"{API}/admin/version/", self._version)
        return app

    # -- middleware: log, faults, authentication, errors ----------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/simulation/"):
            return await handler(request)
        record = await self._record(request)
        delay, completes = self.faults.hold_for(request)
        serving = self._serve(request, handler, record, delay)
        if not completes:
            return await serving
        # Carried out whether or not the client waits for the answer.
        task = asyncio.ensure_future(serving)
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)
        return await asyncio.shield(task)

    async def _serve(self, request: web.Request, handler: Handler, record: AuthentikRequest,
                     delay: float) -> web.StreamResponse:
        if delay:
            await asyncio.sleep(delay)
        if self.faults.is_down:
            record.status = 0
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        response: web.StreamResponse | None = self.faults.take(request)
        if response is None and not request.path.endswith("/"):
            # Django's APPEND_SLASH: the client is sent to the URL with the slash, whatever
            # the method (a client that follows it turns a POST into a GET).
            response = _moved(request)
        if response is None:
            try:
                if request.path.startswith(API):
                    self._authenticate(request)
                response = await handler(request)
            except AuthentikError as exc:
                response = web.json_response(exc.body, status=exc.status)
            except web.HTTPMethodNotAllowed:
                response = web.json_response(
                    {"detail": f'Method "{request.method}" not allowed.'}, status=405)
        record.status = response.status
        record.answered = self.clock.now()
        return response

    async def _record(self, request: web.Request) -> AuthentikRequest:
        record = AuthentikRequest(request.method, request.path, dict(request.query),
                                  time=self.clock.now())
        self.requests.append(record)
        if request.can_read_body:
            raw = await request.read()
            try:
                record.body = json.loads(raw) if raw else None
            except ValueError:
                record.body = raw.decode(errors="replace")
        return record

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "").strip()
        if not header or " " not in header:
            raise forbidden("Authentication credentials were not provided.")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer":
            raise forbidden("Unsupported authentication type")
        if not token:
            raise forbidden("Malformed header")
        user = self.state.tokens.get(token)
        if user is None:
            raise forbidden("Token invalid/expired")
        _USER.set(user)

    # -- proxy providers ------------------------------------------------------------------

    async def _proxy_collection(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            proxies = [self._annotated(p) for p in self.state.providers.values()
                       if p["type"] == "proxy"]
            return _json(page(PROXY_LISTING, proxies, request.query,
                              lambda p: present.proxy_provider(self.state, p)))
        _allow(request, "POST")
        body, errors = await self._body(request, "proxy")
        created = providers.create(self.state, body, errors)
        return _json(present.proxy_provider(self.state, created), 201)

    async def _proxy_item(self, request: web.Request) -> web.StreamResponse:
        current = self._provider(request, proxy_only=True)
        if request.method == "GET":
            return _json(present.proxy_provider(self.state, current))
        if request.method == "DELETE":
            providers.delete(self.state, current["pk"])
            return web.Response(status=204)
        _allow(request, "PUT", "PATCH")
        body, errors = await self._body(request, "proxy")
        updated = providers.update(self.state, current, body,
                                   partial=request.method == "PATCH", errors=errors)
        return _json(present.proxy_provider(self.state, updated))

    async def _all_collection(self, request: web.Request) -> web.Response:
        _allow(request, "GET")
        every = [self._annotated(p) for p in self.state.providers.values()]
        return _json(page(ALL_PROVIDERS_LISTING, every, request.query,
                          lambda p: present.provider(self.state, p)))

    async def _all_item(self, request: web.Request) -> web.StreamResponse:
        current = self._provider(request, proxy_only=False)
        if request.method == "DELETE":
            providers.delete(self.state, current["pk"])
            return web.Response(status=204)
        _allow(request, "GET")
        return _json(present.provider(self.state, current))

    def _provider(self, request: web.Request, *, proxy_only: bool) -> Obj:
        raw = request.match_info["pk"]
        found = self.state.providers.get(int(raw)) if raw.isdigit() else None
        if found is None or (proxy_only and found["type"] != "proxy"):
            raise not_found("ProxyProvider" if proxy_only else "Provider")
        return found

    def _annotated(self, provider: Obj) -> Obj:
        """The provider with the related values its filters look at."""
        flow = self.state.flows.get(str(provider.get("authorization_flow")))
        return {**provider, "_app": self.state.application_of(provider["pk"]),
                "_authorization_flow_slug": flow["slug"] if flow else None}

    # -- applications ---------------------------------------------------------------------

    async def _application_collection(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return _json(page(APPLICATION_LISTING, list(self.state.applications.values()),
                              request.query, lambda a: present.application(self.state, a)))
        _allow(request, "POST")
        body, errors = await self._body(request, "applications")
        created = applications.create(self.state, body, errors)
        return _json(present.application(self.state, created), 201)

    async def _application_item(self, request: web.Request) -> web.StreamResponse:
        current = self.state.application_by_slug(request.match_info["slug"])
        if current is None:
            raise not_found("Application")
        if request.method == "GET":
            return _json(present.application(self.state, current))
        if request.method == "DELETE":
            applications.delete(self.state, current)
            return web.Response(status=204)
        _allow(request, "PUT", "PATCH")
        body, errors = await self._body(request, "applications")
        updated = applications.update(self.state, current, body,
                                      partial=request.method == "PATCH", errors=errors)
        return _json(present.application(self.state, updated))

    # -- outposts -------------------------------------------------------------------------

    async def _outpost_collection(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return _json(page(OUTPOST_LISTING, list(self.state.outposts.values()),
                              request.query, lambda o: present.outpost(self.state, o)))
        _allow(request, "POST")
        body, errors = await self._body(request, "outposts")
        created = outposts.create(self.state, body, errors)
        return _json(present.outpost(self.state, created), 201)

    async def _outpost_item(self, request: web.Request) -> web.StreamResponse:
        current = self.state.outposts.get(request.match_info["pk"])
        if current is None:
            raise not_found("Outpost")
        if request.method == "GET":
            return _json(present.outpost(self.state, current))
        if request.method == "DELETE":
            outposts.delete(self.state, current)
            return web.Response(status=204)
        _allow(request, "PUT", "PATCH")
        body, errors = await self._body(request, "outposts")
        updated = outposts.update(self.state, current, body, partial=request.method == "PATCH",
                                  errors=errors)
        return _json(present.outpost(self.state, updated))

    # -- flows, the user, the version, health ---------------------------------------------

    async def _flow_collection(self, request: web.Request) -> web.Response:
        _allow(request, "GET")
        return _json(page(FLOW_LISTING, list(self.state.flows.values()), request.query,
                          lambda f: present.flow(self.state, f)))

    async def _flow_item(self, request: web.Request) -> web.Response:
        _allow(request, "GET")
        found = self.state.flow_by_slug(request.match_info["slug"])
        if found is None:
            raise not_found("Flow")
        return _json(present.flow(self.state, found))

    async def _me(self, request: web.Request) -> web.Response:
        _allow(request, "GET")
        user = _USER.get()
        me = {"pk": user.pk, "username": user.username, "name": user.name, "is_active": True,
              "is_superuser": user.is_superuser, "is_current": True, "groups": [],
              "roles": [], "email": "", "avatar": "", "uid": f"uid-{user.pk}",
              "settings": {}, "type": "service_account", "system_permissions": []}
        return _json({"user": me, "users": [me]})

    async def _version(self, request: web.Request) -> web.Response:
        _allow(request, "GET")
        return _json({"version_current": self.version, "version_latest": self.version,
                      "version_latest_valid": True, "build_hash": "", "outdated": False,
                      "outpost_outdated": False})

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(status=200)

    # -- request bodies -------------------------------------------------------------------

    async def _body(self, request: web.Request,
                    endpoint: str) -> tuple[dict[str, Any], FieldErrors]:
        """The JSON object sent, and what the official schema says is wrong with it (the
        writes add their own field checks to these and answer 400 with all of them)."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise AuthentikError(400, {"detail": f"JSON parse error - {exc}"}) from exc
        if not isinstance(body, dict):
            raise invalid({"non_field_errors": [
                f"Invalid data. Expected a dictionary, but got {type(body).__name__}."]})
        errors = schema.check(endpoint, request.method, body) if self.validate_schema else {}
        return body, errors


def _moved(request: web.Request) -> web.Response:
    location = request.path + "/" + (f"?{request.query_string}" if request.query_string else "")
    return web.Response(status=301, headers={"Location": location})


def _allow(request: web.Request, *methods: str) -> None:
    if request.method not in methods:
        raise web.HTTPMethodNotAllowed(request.method, list(methods))


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
