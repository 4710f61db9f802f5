"""Old Events: which are eligible for deletion, and when.

An Event is eligible `ttl` after it was last seen: the newest of `lastTimestamp`,
`eventTime` and `series.lastObservedTime` (falling back to `firstTimestamp`, then its
creation). Events churn, so they are found by a paginated sweep every `interval`, namespace
by namespace, never by a watch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.cleanup import annotations as marks
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
from gitops_lifecycle.kube.errors import GoneError, KubeError
from gitops_lifecycle.kube.records import Event, Object, R
from gitops_lifecycle.kube.resources import EVENTS, NAMESPACES, Resource
from gitops_lifecycle.settings import CleanupSettings

log = logs.get("cleanup.events")

POLICY = "events"
RETRY_BASE = 10.0
"""Seconds before retrying a failed sweep, doubling up to the interval."""
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

    async def run(self) -> None:
        """Sweep now and then every interval; a failed sweep is retried sooner."""
        interval = self._settings.controller.policies.events.interval
        failures = 0
        while True:
            try:
                await self.sweep()
            except KubeError as exc:
                failures += 1
                delay = min(interval, RETRY_BASE * 2.0 ** min(failures - 1, 16))
                metrics.CLEANUP_ERRORS.labels(operation=POLICY).inc()
                log.warning("events sweep failed; nothing deleted", error=str(exc),
                            retry_in=delay)
                await self._clock.sleep(delay)
                continue
            failures = 0
            await self._clock.sleep(interval)

    async def sweep(self) -> None:
        """List every in-scope namespace's Events, judge them, delete the expired ones."""
        started = time.perf_counter()
        due: list[Target] = []
        total = 0
        skips: dict[str, str] = {}
        for namespace in await self._namespaces():
            async for event in self._events(namespace):
                total += 1
                self._judge(event, due, skips)
        self._skips = skips
        if self._deleter.guard.judge(POLICY, deleting=len(due), total=total):
            await self._delete(due)
        else:
            self._deleter.recorder.blocked(
                POLICY, message=f"Cleanup policy events stopped: it would delete {len(due)} "
                f"of {total} Events; fix the settings or set cleanup.blastRadius.confirmed",
            )
        elapsed = time.perf_counter() - started
        metrics.CYCLE_DURATION.labels(policy=POLICY).observe(elapsed)
        metrics.LAST_RUN.labels(policy=POLICY).set(self._clock.now())
        log.info("events sweep finished", events=total, due=len(due), seconds=round(elapsed, 3))

    def _judge(self, event: Event, due: list[Target], skips: dict[str, str]) -> None:
        decision = decide(event, self._clock.now(), self._settings)
        if isinstance(decision, Delete):
            due.append(Target(EVENTS, event.metadata, decision))
        elif isinstance(decision, Skip):
            uid = event.metadata.uid
            skips[uid] = decision.reason
            if self._skips.get(uid) != decision.reason:  # once per Event and reason
                metrics.SKIPPED.labels(policy=POLICY, reason=decision.reason).inc()

    async def _delete(self, due: list[Target]) -> None:
        slots = asyncio.Semaphore(self._concurrency)

        async def one(target: Target) -> None:
            async with slots:
                await self._deleter.delete(target)

        async with asyncio.TaskGroup() as group:
            for target in due:
                group.create_task(one(target))

    async def _namespaces(self) -> list[str]:
        scope = self._settings.namespaces
        if scope.include:
            return [namespace for namespace in scope.include if scope.allows(namespace)]
        names = [ns.metadata.name async for ns in self._pages(NAMESPACES, None, record=Object)]
        return [namespace for namespace in names if scope.allows(namespace)]

    def _events(self, namespace: str) -> AsyncIterator[Event]:
        return self._pages(EVENTS, namespace, record=Event)

    async def _pages(
        self, resource: Resource, namespace: str | None, *, record: type[R]
    ) -> AsyncIterator[R]:
        """Every item of a paginated LIST; an expired continue token starts it again."""
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
                continue
            for item in page.items:
                yield item
            token = page.metadata.continue_ or None
            if token is None:
                return
