"""Old Events: which are eligible for deletion, and when.

An Event is eligible `ttl` after it was last seen: the newest of `lastTimestamp`,
`eventTime` and `series.lastObservedTime` (falling back to `firstTimestamp`, then its
creation). Events churn, so they are found by a paginated sweep every `interval`, namespace
by namespace, never by a watch.
"""

from __future__ import annotations

import asyncio
import time

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.cleanup import failures
from gitops_lifecycle.cleanup.decision import (
    COMMON_REASONS,
    INVALID_ANNOTATION,
    POLICY_DISABLED,
    Decision,
    Delete,
    Skip,
    expiry,
    out_of_scope,
    seconds,
    timed,
)
from gitops_lifecycle.cleanup.deleter import Deleter, Target
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import GoneError
from gitops_lifecycle.kube.records import Event, Object, R
from gitops_lifecycle.kube.resources import EVENTS, NAMESPACES, Resource
from gitops_lifecycle.settings import CleanupSettings

log = logs.get("cleanup.events")

POLICY = "events"
RETRY_BASE = 10.0
"""Seconds before retrying a failed sweep, doubling up to the interval."""
PERSISTENT = 120.0
"""Seconds sweeps may keep failing before `/readyz` reports the controller as failing."""
NO_TIMESTAMP = "no_timestamp"
REASONS = (*COMMON_REASONS, NO_TIMESTAMP)


def decide(event: Event, now: float, settings: CleanupSettings) -> Decision:
    """Whether `event` may be deleted at `now`, and if not, why or from when."""
    config = settings.controller.policies.events
    reason = out_of_scope(event.metadata, settings)
    if reason:
        return Skip(POLICY, reason)
    if not config.enabled:
        return Skip(POLICY, POLICY_DISABLED)
    seen = last_seen(event)
    if seen is None:
        return Skip(POLICY, NO_TIMESTAMP)
    try:
        expires = expiry(event.metadata, start=seen, default=config.ttl)
    except marks.InvalidAnnotationError:
        return Skip(POLICY, INVALID_ANNOTATION)
    return timed(POLICY, expires=expires, now=now)


def last_seen(event: Event) -> float | None:
    """When the Event last happened, by the newest timestamp it carries."""
    series = event.series.last_observed_time if event.series is not None else None
    candidates = [
        seconds(value) for value in (event.last_timestamp, event.event_time, series)
    ]
    known = [moment for moment in candidates if moment is not None]
    if known:
        return max(known)
    return seconds(event.first_timestamp) or seconds(event.metadata.creation_timestamp)


class EventsController:
    """A `Component`: every `events.interval`, lists Events page by page and deletes the old.

    A sweep that cannot list everything (an error, a namespace that fails) deletes nothing
    and is tried again after a backoff: the blast-radius share needs the whole picture.
    """

    name = "cleanup-events"

    def __init__(  # noqa: PLR0913 - collaborators plus two tuning knobs
        self, *, kube: Kube, deleter: Deleter, settings: CleanupSettings, clock: Clock,
        concurrency: int = 8, page_size: int = 500,
    ) -> None:
        self._kube = kube
        self._deleter = deleter
        self._settings = settings
        self._clock = clock
        self._concurrency = concurrency
        self._page_size = page_size
        self._skips: dict[str, str] = {}
        self._failing_since: float | None = None

    async def run(self) -> None:
        """Sweep now and then every interval; a failed (or partly failed) sweep sooner."""
        interval = self._settings.controller.policies.events.interval
        streak = 0
        while True:
            try:
                failed = await self.sweep()
            except failures.TRANSIENT as exc:
                failures.count(POLICY, exc, first=streak == 0, sweep="list")
                failed, at_least = 1, failures.retry_after(exc)
            else:
                at_least = 0.0
            if not failed:
                streak = 0
                self._failing_since = None
                await self._clock.sleep(interval)
                continue
            streak += 1
            if self._failing_since is None:
                self._failing_since = self._clock.monotonic()
            delay = max(at_least, min(interval, RETRY_BASE * 2.0 ** min(streak - 1, 16)))
            log.info("events sweep incomplete; trying again", retry_in=delay)
            await self._clock.sleep(delay)

    def readiness(self) -> str | None:
        """Why `/readyz` should fail for this controller, if it should."""
        since = self._failing_since
        if since is not None and self._clock.monotonic() - since >= PERSISTENT:
            return f"Events sweeps have been failing for {self._clock.monotonic() - since:.0f}s"
        return None

    async def sweep(self) -> int:
        """List every in-scope namespace's Events, judge them, delete the expired ones.

        Returns how many deletions failed (each is counted and logged; the next sweep,
        which comes sooner, decides about them again). Each namespace is listed completely
        before its Events count: a list restarted after an expired continue token counts
        afresh, so nothing is counted (or deleted) twice.
        """
        started = time.perf_counter()
        due: list[Target] = []
        total = 0
        skips: dict[str, str] = {}
        for namespace in await self._namespaces():
            events = await self._list(EVENTS, namespace, record=Event)
            total += len(events)
            for event in events:
                self._judge(event, due, skips)
        self._skips = skips
        failed = 0
        if self._deleter.sweep_allowed(POLICY, deleting=len(due), total=total,
                                       kind="Events"):
            failed = await self._delete(due, total)
        elapsed = time.perf_counter() - started
        metrics.CYCLE_DURATION.labels(policy=POLICY).observe(elapsed)
        metrics.LAST_RUN.labels(policy=POLICY).set(self._clock.now())
        log.info("events sweep finished", events=total, due=len(due), failed=failed,
                 seconds=round(elapsed, 3))
        return failed

    def _judge(self, event: Event, due: list[Target], skips: dict[str, str]) -> None:
        decision = decide(event, self._clock.now(), self._settings)
        if isinstance(decision, Delete):
            due.append(Target(EVENTS, event.metadata, decision))
        elif isinstance(decision, Skip):
            uid = event.metadata.uid
            skips[uid] = decision.reason
            if self._skips.get(uid) != decision.reason:  # once per Event and reason
                metrics.SKIPPED.labels(policy=POLICY, reason=decision.reason).inc()

    async def _delete(self, due: list[Target], total: int) -> int:
        """Delete `due`, `concurrency` at a time; one failure never cancels the others."""
        slots = asyncio.Semaphore(self._concurrency)
        failed: list[BaseException] = []

        async def one(target: Target) -> None:
            async with slots:
                try:
                    await self._deleter.delete(target, total=total)
                except failures.TRANSIENT as exc:
                    failures.count(POLICY, exc, first=not failed, key=target.meta.key)
                    failed.append(exc)

        async with asyncio.TaskGroup() as group:
            for target in due:
                group.create_task(one(target))
        return len(failed)

    async def _namespaces(self) -> list[str]:
        scope = self._settings.namespaces
        if scope.include:
            return [namespace for namespace in scope.include if scope.allows(namespace)]
        listed = await self._list(NAMESPACES, None, record=Object)
        return [ns.metadata.name for ns in listed if scope.allows(ns.metadata.name)]

    async def _list(
        self, resource: Resource, namespace: str | None, *, record: type[R]
    ) -> list[R]:
        """Every item of a paginated LIST; an expired continue token starts it afresh."""
        items: list[R] = []
        token: str | None = None
        while True:
            try:
                page = await self._kube.list_page(
                    resource, record=record, namespace=namespace, limit=self._page_size,
                    continue_token=token,
                )
            except GoneError:
                if token is None:
                    raise
                token = None  # the list took longer than the server keeps a snapshot
                items.clear()
                continue
            items.extend(page.items)
            token = page.metadata.continue_ or None
            if token is None:
                return items
