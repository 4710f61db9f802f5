"""The control endpoint under `/simulation/`: faults, the request log and the clock, over HTTP.

A test of a separate process (the real `gitops-lifecycle run` against `simulate`) rehearses an
outage from outside with it. Requests to it are neither logged nor faulted.

    GET    /simulation/                    what is here
    GET    /simulation/faults              the rules in force
    POST   /simulation/faults              add a rule (body below); 201 with its id
    DELETE /simulation/faults[/{id}]       end every rule (and the global latency), or one
    POST   /simulation/watches/drop        cut open watches ({"graceful": true}: end them)
    POST   /simulation/compact             forget the change history (old RVs answer 410)
    GET    /simulation/requests?since=N    the request log from entry N; `next` for the next call
    GET    /simulation/clock               now (epoch and RFC 3339), paused, speed
    POST   /simulation/clock/advance       {"seconds": 3600}
    POST   /simulation/clock/pause | resume

A fault rule: `{"method": "GET", "path": "/jobs", "status": 503, "retryAfter": 5,
"latency": 2, "stall": false, "drop": false, "count": 10, "seconds": 60}` — `path` is a
regular expression searched in the path and query; at least one of `status`, `latency`,
`stall`, `drop`; it ends after `count` matching requests, after `seconds` of the cluster's
clock, or when deleted (a stalled request then goes on).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from gitops_lifecycle.clock import Clock, SimClock, format_time
from gitops_lifecycle.simulation.kubeapi.faults import Faults, RequestRecord
from gitops_lifecycle.simulation.kubeapi.store import Store

PREFIX = "/simulation/"

_RULE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "method": str, "path": str, "status": int, "retryAfter": (int, float),
    "latency": (int, float), "stall": bool, "drop": bool, "count": int, "seconds": (int, float),
}
_HTTP_ERROR = 400


class ControlError(ValueError):
    """A control request that cannot be carried out (answered 400 with the message)."""


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(body), status=status,
                        content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        msg = f"the body is not JSON: {exc}"
        raise ControlError(msg) from exc
    if not isinstance(body, dict):
        msg = "the body must be a JSON object"
        raise ControlError(msg)
    return body


def rule_options(body: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `Faults.inject` from a rule's JSON, checked field by field."""
    for key, value in body.items():
        kind = _RULE_FIELDS.get(key)
        if kind is None:
            msg = f"unknown field {key!r} (known: {', '.join(_RULE_FIELDS)})"
            raise ControlError(msg)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            msg = f"field {key!r} has the wrong type: {value!r}"
            raise ControlError(msg)
    if not any(body.get(key) for key in ("status", "latency", "stall", "drop")):
        msg = "a rule needs at least one of 'status', 'latency', 'stall', 'drop'"
        raise ControlError(msg)
    status = body.get("status")
    if status is not None and not _HTTP_ERROR <= status <= 599:
        msg = f"field 'status' must be an error status (400-599), not {status}"
        raise ControlError(msg)
    if "path" in body:
        try:
            re.compile(body["path"])
        except re.error as exc:
            msg = f"field 'path' is not a regular expression: {exc}"
            raise ControlError(msg) from exc
    options = {key: value for key, value in body.items() if key != "retryAfter"}
    if "retryAfter" in body:
        options["retry_after"] = body["retryAfter"]
    return options


def _record(index: int, record: RequestRecord) -> dict[str, Any]:
    return {"index": index, "method": record.method, "path": record.path,
            "query": record.query, "time": record.time, "status": record.status,
            "verb": record.verb}


@dataclass
class Control:
    """The handlers of the control endpoint."""

    faults: Faults
    clock: Clock
    store: Store
    requests: list[RequestRecord]

    def add_routes(self, app: web.Application) -> None:
        """Mount the endpoint on the API server's application."""
        routes = [
            ("GET", "", self._index), ("GET", "faults", self._faults),
            ("POST", "faults", self._add_fault), ("DELETE", "faults", self._clear_faults),
            ("DELETE", "faults/{id}", self._remove_fault),
            ("POST", "watches/drop", self._drop_watches), ("POST", "compact", self._compact),
            ("GET", "requests", self._requests), ("GET", "clock", self._clock),
            ("POST", "clock/advance", self._advance), ("POST", "clock/pause", self._pause),
            ("POST", "clock/resume", self._resume),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, PREFIX + path, _answering_errors(handler))

    async def _index(self, _: web.Request) -> web.Response:
        return _json({"endpoints": [line.strip() for line in (__doc__ or "").splitlines()
                                    if line.strip().startswith(("GET", "POST", "DELETE"))]})

    async def _faults(self, _: web.Request) -> web.Response:
        return _json({"items": [rule.describe() for rule in self.faults.rules],
                      "latency": self.faults.delay})

    async def _add_fault(self, request: web.Request) -> web.Response:
        rule = self.faults.inject(**rule_options(await _body(request)))
        return _json(rule.describe(), status=201)

    async def _clear_faults(self, _: web.Request) -> web.Response:
        count = len(self.faults.rules)
        self.faults.clear()
        return _json({"removed": count})

    async def _remove_fault(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        for rule in self.faults.rules:
            if str(rule.id) == wanted:
                self.faults.remove(rule)
                return _json(rule.describe())
        return _json({"message": f"no fault rule {wanted}"}, status=404)

    async def _drop_watches(self, request: web.Request) -> web.Response:
        graceful = bool((await _body(request)).get("graceful"))
        return _json({"dropped": self.faults.drop_watches(graceful=graceful)})

    async def _compact(self, _: web.Request) -> web.Response:
        self.faults.compact()
        return _json({"resourceVersion": str(self.store.rv)})

    async def _requests(self, request: web.Request) -> web.Response:
        try:
            since = max(int(request.query.get("since", "0")), 0)
        except ValueError as exc:
            msg = f"'since' must be a whole number, not {request.query['since']!r}"
            raise ControlError(msg) from exc
        log = self.requests[since:]
        return _json({"items": [_record(since + i, r) for i, r in enumerate(log)],
                      "next": since + len(log)})

    def _clock_state(self) -> dict[str, Any]:
        now = self.clock.now()
        paused = isinstance(self.clock, SimClock) and self.clock.paused
        return {"now": now, "time": format_time(now), "paused": paused,
                "speed": self.clock.speed}

    def _sim_clock(self) -> SimClock:
        if not isinstance(self.clock, SimClock):
            msg = "this cluster runs on the real clock, which cannot be moved"
            raise ControlError(msg)
        return self.clock

    async def _clock(self, _: web.Request) -> web.Response:
        return _json(self._clock_state())

    async def _advance(self, request: web.Request) -> web.Response:
        seconds = (await _body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            msg = f"'seconds' must be a number of seconds, zero or more, not {seconds!r}"
            raise ControlError(msg)
        self._sim_clock().advance(seconds)
        return _json(self._clock_state())

    async def _pause(self, _: web.Request) -> web.Response:
        self._sim_clock().pause()
        return _json(self._clock_state())

    async def _resume(self, _: web.Request) -> web.Response:
        self._sim_clock().resume()
        return _json(self._clock_state())


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _answering_errors(handler: Handler) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return _json({"message": str(exc)}, status=_HTTP_ERROR)
    return handle
