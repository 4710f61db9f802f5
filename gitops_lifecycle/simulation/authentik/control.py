"""The control endpoint under `/simulation/`: faults, tokens, the request log and the objects.

A test of a separate process (the real `gitops-lifecycle run` against `simulate`) rehearses
an Authentik outage or a token rotation from outside with it. Requests to it need no token
and are neither logged nor faulted.

    GET    /simulation/                    what is here
    GET    /simulation/faults              down, latency and the failure rules in force
    POST   /simulation/faults              {"status": 503, "count": 3, "method": "GET",
                                            "path": "page=2"}: 201 with its id (no count:
                                            until deleted); {"latency": 5, …} delays instead
    DELETE /simulation/faults[/{id}]       end every rule, the latency and the downtime; or one
    POST   /simulation/down | up           drop every connection without an answer | answer
    POST   /simulation/latency             {"seconds": 2}
    POST   /simulation/tokens              {"token": "…"} (optional): 201, another valid token
    POST   /simulation/tokens/revoke       {"token": "…"}: from now on it gets 403
    GET    /simulation/requests?since=N    the request log from entry N; `next` for the next call
    GET    /simulation/objects             providers, applications and outposts as stored
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from gitops_lifecycle.simulation.authentik.server import SimulatedAuthentik

PREFIX = "/simulation/"
_ENDPOINTS = [line.strip() for line in (__doc__ or "").splitlines()
              if line.strip().startswith(("GET ", "POST ", "DELETE "))]


class ControlError(ValueError):
    """A control request that cannot be carried out (answered 400 with the message)."""


@dataclass
class Control:
    """The control handlers of one simulated Authentik."""

    authentik: SimulatedAuthentik

    def routes(self) -> list[web.RouteDef]:
        """The routes under /simulation/."""
        handlers = [
            ("GET", "", self.index), ("GET", "faults", self.show_faults),
            ("POST", "faults", self.add_fault), ("DELETE", "faults", self.clear_faults),
            ("DELETE", "faults/{id}", self.remove_fault), ("POST", "down", self.down),
            ("POST", "up", self.up), ("POST", "latency", self.latency),
            ("POST", "tokens", self.add_token), ("POST", "tokens/revoke", self.revoke),
            ("GET", "requests", self.requests), ("GET", "objects", self.objects),
        ]
        return [web.route(method, PREFIX + path, _answering_400(handler))
                for method, path, handler in handlers]

    async def index(self, _: web.Request) -> web.Response:
        return web.json_response({"endpoints": _ENDPOINTS})

    async def show_faults(self, _: web.Request) -> web.Response:
        faults = self.authentik.faults
        return web.json_response({"down": faults.is_down, "latency": faults.delay,
                                  "rules": faults.rules()})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await _body(request)
        status, latency = _field(body, "status", int), _field(body, "latency", (int, float))
        count = _field(body, "count", int)
        method, path = _field(body, "method", str), _field(body, "path", str)
        faults = self.authentik.faults
        if (status is None) == (latency is None):
            raise ControlError("give one of status and latency")
        if latency is not None:
            rule_id = faults.slow(float(latency), method=method, path=path, count=count)
        elif count is None:
            rule_id = faults.fail_all(status, method=method, path=path)
        else:
            rule_id = faults.fail_next(count, status, method=method, path=path)
        return web.json_response({"id": rule_id}, status=201)

    async def clear_faults(self, _: web.Request) -> web.Response:
        self.authentik.faults.clear()
        return web.json_response({})

    async def remove_fault(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        if not raw.isdigit() or not self.authentik.faults.remove(int(raw)):
            return web.json_response({"message": f"no fault rule {raw}"}, status=404)
        return web.json_response({})

    async def down(self, _: web.Request) -> web.Response:
        self.authentik.faults.down()
        return web.json_response({"down": True})

    async def up(self, _: web.Request) -> web.Response:
        self.authentik.faults.up()
        return web.json_response({"down": False})

    async def latency(self, request: web.Request) -> web.Response:
        seconds = _field(await _body(request), "seconds", (int, float), required=True)
        self.authentik.faults.latency(float(seconds))
        return web.json_response({"latency": self.authentik.faults.delay})

    async def add_token(self, request: web.Request) -> web.Response:
        token = _field(await _body(request), "token", str)
        return web.json_response({"token": self.authentik.add_token(token)}, status=201)

    async def revoke(self, request: web.Request) -> web.Response:
        token = _field(await _body(request), "token", str, required=True)
        self.authentik.faults.revoke_token(token)
        return web.json_response({})

    async def requests(self, request: web.Request) -> web.Response:
        raw = request.query.get("since", "0")
        since = int(raw) if raw.isdigit() else 0
        log = self.authentik.requests
        return web.json_response({"items": [asdict(r) for r in log[since:]], "next": len(log)})

    async def objects(self, _: web.Request) -> web.Response:
        return web.json_response({"providers": self.authentik.providers(),
                                  "applications": self.authentik.applications(),
                                  "outposts": self.authentik.outposts()})


def _answering_400(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return web.json_response({"message": str(exc)}, status=400)
    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ControlError(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *,
           required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise ControlError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ControlError(f"{name} has the wrong type")
    return value
