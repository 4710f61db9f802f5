"""Fault injection and the request log: what tests use to make the cluster misbehave and to
check afterwards what a client asked for."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gitops_lifecycle.clock import Clock
from gitops_lifecycle.simulation.kubeapi.errors import ApiError
from gitops_lifecycle.simulation.kubeapi.store import Store
from gitops_lifecycle.simulation.kubeapi.watching import CLOSE, DROP, SILENCE, Watcher

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


@dataclass(eq=False)
class Rule:
    """One injected fault: what it matches, what it does, and for how long.

    A rule answers with `status` (and `Retry-After`), or cuts the connection (`drop`), or
    delays (`latency`) or holds (`stall`) matching requests until the rule ends. It ends after
    `remaining` matching requests, at clock time `until`, or when removed.
    """

    id: int
    method: str | None = None
    path: PathPredicate | None = None
    status: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    stall: bool = False
    drop: bool = False
    remaining: int | None = None
    until: float | None = None
    hits: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def answers(self) -> bool:
        """Whether the rule answers the request itself (an error, or a cut connection)."""
        return self.status is not None or self.drop

    def matches(self, request: web.Request) -> bool:
        """Whether the rule applies to `request`."""
        if self.method and request.method.upper() != self.method.upper():
            return False
        if self.path is None:
            return True
        if callable(self.path):
            return self.path(request)
        return re.search(self.path, request.path_qs) is not None

    def describe(self) -> dict[str, Any]:
        """The rule as the control endpoint shows it."""
        path = self.path if isinstance(self.path, str) or self.path is None else "<function>"
        return {"id": self.id, "method": self.method, "path": path, "status": self.status,
                "retryAfter": self.retry_after, "latency": self.latency, "stall": self.stall,
                "drop": self.drop, "remaining": self.remaining, "until": self.until,
                "hits": self.hits}


@dataclass
class Faults:
    """Misbehaviour on demand; every method takes effect at once."""

    store: Store
    clock: Clock | None = None
    watchers: set[Watcher] = field(default_factory=set)
    delay: float = 0.0
    rules: list[Rule] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def inject(  # noqa: PLR0913 -- the parts of a rule
        self, *, method: str | None = None, path: PathPredicate | None = None,
        status: int | None = None, retry_after: float | None = None, latency: float = 0.0,
        stall: bool = False, drop: bool = False, count: int | None = None,
        seconds: float | None = None,
    ) -> Rule:
        """Add a rule (see `Rule`); `count` requests or `seconds` of clock time, or until
        removed. A 429 carries `Retry-After` (default 1 s), as API priority and fairness does.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        until = None if seconds is None else self._now() + seconds
        rule = Rule(next(self._ids), method, path, status, retry_after, latency, stall, drop,
                    remaining=count, until=until)
        self.rules.append(rule)
        return rule

    def fail_next(
        self, n: int, status: int, *, method: str | None = None,
        path: PathPredicate | None = None, retry_after: float | None = None,
    ) -> None:
        """Answer the next `n` matching requests with `status` (429, 500, 503…).

        `path` is a regular expression searched in the path and query, or a predicate on the
        aiohttp request.
        """
        self.inject(method=method, path=path, status=status, retry_after=retry_after, count=n)

    def latency(self, seconds: float) -> None:
        """Delay every request by `seconds` of loop time (0 turns it off)."""
        self.delay = seconds

    def drop_watches(self, *, graceful: bool = False) -> int:
        """Cut every open watch stream (or end it cleanly); how many there were."""
        for watcher in list(self.watchers):
            watcher.stop()
            watcher.queue.put_nowait(CLOSE if graceful else DROP)
        return len(self.watchers)

    def silence_watches(self) -> int:
        """Let every open watch go silent, connection open (a peer or NAT that lost it)."""
        for watcher in list(self.watchers):
            watcher.stop()
            watcher.queue.put_nowait(SILENCE)
        return len(self.watchers)

    def compact(self) -> None:
        """Forget the change history: watches and continue tokens from before get 410."""
        self.store.compact()

    def expire_continue_tokens(self) -> None:
        """Make every continue token issued so far answer 410 Expired."""
        self.store.expired_tokens_through = self.store.rv

    def remove(self, rule: Rule) -> None:
        """End a rule: stalled requests go on."""
        if rule in self.rules:
            self.rules.remove(rule)
        rule.ended.set()

    def clear(self) -> None:
        """Stop injecting failures and latency."""
        for rule in list(self.rules):
            self.remove(rule)
        self.delay = 0.0

    def _now(self) -> float:
        return (self.clock or Clock()).now()

    def _expire(self) -> None:
        expiring = [rule for rule in self.rules if rule.until is not None]
        if not expiring:
            return
        now = self._now()
        for rule in expiring:
            if rule.until is not None and rule.until <= now:
                self.remove(rule)

    def _hit(self, rule: Rule) -> None:
        rule.hits += 1
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                self.remove(rule)

    def matching(self, request: web.Request) -> tuple[list[Rule], Rule | None]:
        """The delaying rules that apply to `request`, and the first rule that answers it."""
        self._expire()
        delaying: list[Rule] = []
        answering = None
        for rule in list(self.rules):
            if not rule.matches(request):
                continue
            if rule.answers:
                if answering is not None:
                    continue
                answering = rule
            else:
                delaying.append(rule)
            self._hit(rule)
        return delaying, answering

    async def intercept(self, request: web.Request) -> web.StreamResponse | None:
        """Delay, hold, cut or answer `request` as the rules say; None: serve it normally."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.rules:
            return None
        delaying, answering = self.matching(request)
        for rule in delaying:
            if rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.stall:
                await self._hold(rule)
        if answering is None:
            return None
        if answering.status is not None:
            return _failure_response(answering)
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=503)  # never written: the connection is gone

    async def _hold(self, rule: Rule) -> None:
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(rule.ended.wait())}
        if rule.until is not None and self.clock is not None:
            waiters.add(asyncio.ensure_future(self.clock.sleep_until(rule.until)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


def _failure_response(failure: Rule) -> web.Response:
    status = failure.status or 500
    reason = _REASONS.get(status, "InternalError")
    message = "the server has received too many requests and has asked us to try again later" \
        if status == 429 else f"injected failure ({status})"
    error = ApiError(status, reason, message)
    details = {}
    headers = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = str(int(failure.retry_after))
        details["retryAfterSeconds"] = int(failure.retry_after)
    error.details = details or None
    return web.json_response(error.status(), status=status, headers=headers)
