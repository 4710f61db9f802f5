"""Fault injection and the request log: what tests use to make the cluster misbehave and to
check afterwards what a client asked for."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from gitops_lifecycle.simulation.kubeapi.errors import ApiError
from gitops_lifecycle.simulation.kubeapi.store import Store
from gitops_lifecycle.simulation.kubeapi.watching import CLOSE, DROP, Watcher

_REASONS = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


@dataclass
class RequestRecord:
    """One request: what was asked, the status answered, and when (simulated time)."""

    method: str
    path: str
    query: dict[str, str]
    time: float
    status: int | None = None
    user_agent: str = ""

    @property
    def watch(self) -> bool:
        """Whether this was a WATCH."""
        return self.query.get("watch", "").lower() in ("1", "true")

    @property
    def verb(self) -> str:
        """The Kubernetes verb: get, list, watch, create, update, patch, delete."""
        method = self.method.upper()
        if method == "GET":
            return "watch" if self.watch else "get-or-list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, method.lower())


REQUEST_LISTENERS: list[Callable[[RequestRecord], None]] = []
"""Told of every request any simulated API server in this process receives, as an audit
webhook is: what a test run asked for, gathered across every cluster it started."""

PathPredicate = str | Callable[[web.Request], bool]


@dataclass
class _Failure:
    remaining: int
    status: int
    method: str | None
    path: PathPredicate | None
    retry_after: float | None

    def matches(self, request: web.Request) -> bool:
        if self.method and request.method.upper() != self.method.upper():
            return False
        if self.path is None:
            return True
        if callable(self.path):
            return self.path(request)
        return re.search(self.path, request.path_qs) is not None


@dataclass
class Faults:
    """Misbehaviour on demand; every method takes effect at once."""

    store: Store
    watchers: set[Watcher] = field(default_factory=set)
    delay: float = 0.0
    _failures: list[_Failure] = field(default_factory=list)

    def fail_next(
        self, n: int, status: int, *, method: str | None = None,
        path: PathPredicate | None = None, retry_after: float | None = None,
    ) -> None:
        """Answer the next `n` matching requests with `status` (429, 500, 503…).

        `path` is a regular expression searched in the path and query, or a predicate on the
        aiohttp request. A 429 carries `Retry-After` (default 1 s), as API priority and
        fairness does.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.append(_Failure(n, status, method, path, retry_after))

    def latency(self, seconds: float) -> None:
        """Delay every request by `seconds` of loop time (0 turns it off)."""
        self.delay = seconds

    def drop_watches(self, *, graceful: bool = False) -> int:
        """Cut every open watch stream (or end it cleanly); how many there were."""
        for watcher in list(self.watchers):
            watcher.stop()
            watcher.queue.put_nowait(CLOSE if graceful else DROP)
        return len(self.watchers)

    def compact(self) -> None:
        """Forget the change history: watches and continue tokens from before get 410."""
        self.store.compact()

    def expire_continue_tokens(self) -> None:
        """Make every continue token issued so far answer 410 Expired."""
        self.store.expired_tokens_through = self.store.rv

    def clear(self) -> None:
        """Stop injecting failures and latency."""
        self._failures.clear()
        self.delay = 0.0

    def take(self, request: web.Request) -> web.Response | None:
        """The failure to answer `request` with, if one is pending for it."""
        for failure in self._failures:
            if failure.matches(request):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return _failure_response(failure)
        return None


def _failure_response(failure: _Failure) -> web.Response:
    reason = _REASONS.get(failure.status, "InternalError")
    message = "the server has received too many requests and has asked us to try again later" \
        if failure.status == 429 else f"injected failure ({failure.status})"
    error = ApiError(failure.status, reason, message)
    details = {}
    headers = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = str(int(failure.retry_after))
        details["retryAfterSeconds"] = int(failure.retry_after)
    error.details = details or None
    return web.json_response(error.status(), status=failure.status, headers=headers)
