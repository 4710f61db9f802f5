"""Fault injection and the request log of the simulated Authentik.

Down (connections dropped without an answer), slow (added latency), 5xx (the next n
matching requests, or all of them until cleared) and a revoked token; every request is
logged with its parsed JSON body, never its token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PathPredicate = str | Callable[[web.Request], bool]


@dataclass
class AuthentikRequest:
    """One request: what was asked, the JSON body, the status answered, and when."""

    method: str
    path: str
    query: dict[str, str]
    time: float
    body: Any = None
    status: int | None = None
    answered: float | None = None
    """When the server acted and answered (None: not yet, or never)."""

    @property
    def write(self) -> bool:
        """Whether this request could change something."""
        return self.method.upper() in ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class _Failure:
    remaining: int | None
    status: int | None
    method: str | None
    path: PathPredicate | None
    id: int = 0
    latency: float = 0.0
    completes: bool = False

    def describe(self) -> dict[str, Any]:
        """The rule as the control endpoint shows it."""
        path = self.path if isinstance(self.path, str) or self.path is None else "<predicate>"
        return {"id": self.id, "status": self.status, "latency": self.latency,
                "method": self.method, "path": path, "count": self.remaining}

    def consume(self) -> bool:
        """Count one matching request; whether the rule has run out."""
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0

    def matches(self, request: web.Request) -> bool:
        if self.method and request.method.upper() != self.method.upper():
            return False
        if self.path is None:
            return True
        if callable(self.path):
            return self.path(request)
        return re.search(self.path, request.path_qs) is not None


@dataclass
class AuthentikFaults:
    """Misbehaviour on demand; every method takes effect at once."""

    revoke: Callable[[str], None]
    delay: float = 0.0
    is_down: bool = False
    _failures: list[_Failure] = field(default_factory=list)
    _next_id: int = 1

    def down(self) -> None:
        """Drop every connection without an answer until `up()` (as when Authentik restarts)."""
        self.is_down = True

    def up(self) -> None:
        """Answer again."""
        self.is_down = False

    def latency(self, seconds: float) -> None:
        """Delay every answer by `seconds` of loop time (0 turns it off)."""
        self.delay = seconds

    def fail_next(self, n: int, status: int = 503, *, method: str | None = None,
                  path: PathPredicate | None = None) -> int:
        """Answer the next `n` matching requests with `status`; the rule's id.

        `path` is a regular expression searched in the path and query (`r"page=2"` fails a
        listing part-way), or a predicate on the aiohttp request.
        """
        return self._add(_Failure(n, status, method, path))

    def fail_all(self, status: int = 503, *, method: str | None = None,
                 path: PathPredicate | None = None) -> int:
        """Answer every matching request with `status` until `clear()`; the rule's id."""
        return self._add(_Failure(None, status, method, path))

    def rules(self) -> list[dict[str, Any]]:
        """The failure rules in force."""
        return [failure.describe() for failure in self._failures]

    def remove(self, rule_id: int) -> bool:
        """End one failure rule; whether it was in force."""
        kept = [f for f in self._failures if f.id != rule_id]
        found = len(kept) != len(self._failures)
        self._failures[:] = kept
        return found

    def _add(self, failure: _Failure) -> int:
        failure.id = self._next_id
        self._next_id += 1
        self._failures.append(failure)
        return failure.id

    def slow(self, seconds: float, *, method: str | None = None,
             path: PathPredicate | None = None, count: int | None = None,
             completes: bool = False) -> int:
        """Delay the matching requests by `seconds` (the next `count`, or until cleared).

        With `completes`, the server carries a delayed request out even if the client gives
        up on it meanwhile, as Django runs a view to its end (a slow database, not a slow
        network): the write lands after the client has gone.
        """
        return self._add(_Failure(count, None, method, path, latency=seconds,
                                  completes=completes))

    def revoke_token(self, token: str) -> None:
        """Make a token invalid from now on: requests with it get 403."""
        self.revoke(token)

    def clear(self) -> None:
        """Stop injecting failures, latency and downtime (revoked tokens stay revoked)."""
        self._failures.clear()
        self.delay = 0.0
        self.is_down = False

    def hold_for(self, request: web.Request) -> tuple[float, bool]:
        """How long to hold `request` (the global latency plus that of matching slow rules),
        and whether it completes even if its client goes."""
        extra = 0.0
        completes = False
        for rule in [f for f in self._failures if f.status is None and f.matches(request)]:
            extra += rule.latency
            completes = completes or rule.completes
            if rule.consume():
                self._failures.remove(rule)
        return self.delay + extra, completes

    def take(self, request: web.Request) -> web.Response | None:
        """The failure to answer `request` with, if one is pending for it."""
        for failure in self._failures:
            if failure.status is not None and failure.matches(request):
                if failure.consume():
                    self._failures.remove(failure)
                return _failure_response(failure.status)
        return None


def _failure_response(status: int) -> web.Response:
    # What a reverse proxy in front of Authentik (or gunicorn itself) answers: not JSON.
    return web.Response(status=status, text=f"injected failure ({status})\n",
                        content_type="text/plain")
