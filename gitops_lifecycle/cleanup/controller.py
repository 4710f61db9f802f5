"""What every cache-driven cleanup controller shares: timers, the safety-net sweep, the queue.

An object is reconciled when it changes (informer subscription) and at the moment it expires
(a timer the reconciler asks for by returning `RequeueAt`). Every `controller.interval` a
sweep over the cache re-judges everything as a safety net; the first sweep, right after the
caches have synced, is the only way objects present at start-up are acted on, so that the
blast-radius guard sees them all at once (a bad TTL setting would otherwise delete the
cluster's Jobs one object at a time). No controller LISTs: they read the informers' caches.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.cleanup import failures
from gitops_lifecycle.cleanup.decision import Decision, Delete, Skip, Wait
from gitops_lifecycle.cleanup.deleter import Deleter, Outcome, Target
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.kube.informer import EventType, Informer
from gitops_lifecycle.kube.queue import DONE, Backoff, ReconcileQueue, RequeueAt, Result, Retry
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import Resource
from gitops_lifecycle.settings import CleanupSettings

log = logs.get("cleanup")

RETRY_BASE = 1.0
"""Seconds before the first retry of a key whose API call failed (or hit a 409), doubling."""
RETRY_CAP = 300.0
"""The longest wait between two retries of one key."""
PERSISTENT = 120.0
"""Seconds a key may keep failing before `/readyz` reports the controller as failing."""
FRESH_POLL = 1.0
"""Seconds between two looks at whether the caches a decision reads are live again."""


class CacheController(ABC):
    """A `Component`: reconciles one resource's cached objects through the guarded deleter."""

    name: str
    resource: Resource
    policies: tuple[str, ...]
    quiet: frozenset[str] = frozenset()
    """Skip reasons too common to count (every pod that is not terminating)."""

    def __init__(
        self,
        *,
        informer: Informer[Object],
        deleter: Deleter,
        settings: CleanupSettings,
        clock: Clock,
        workers: int = 4,
    ) -> None:
        self.informer = informer
        self.deleter = deleter
        self.settings = settings
        self.clock = clock
        self.queue: ReconcileQueue[str] = ReconcileQueue(
            name=self.name, reconcile=self.reconcile, clock=clock, workers=workers,
            backoff=Backoff(base=RETRY_BASE, cap=RETRY_CAP),
        )
        self._primed = False
        self._stale_since: float | None = None
        self._skips: dict[str, tuple[str, str]] = {}
        self._deleted: dict[str, str] = {}
        """Key → uid of objects deleted whose DELETED event the cache has not yet seen."""
        informer.subscribe(self._on_change)

    # --- what each policy provides ----------------------------------------------------------
    @abstractmethod
    async def judge(self, obj: Object) -> Decision:
        """Decide about `obj` now (reading live state where the policy needs it)."""

    def related(self, obj: Object) -> Iterable[str]:  # noqa: ARG002 - a hook for subclasses
        """Keys of other objects whose decision may change when `obj` changes."""
        return ()

    def wants(self, new: Object | None) -> bool:  # noqa: ARG002 - a hook for subclasses
        """Whether a change is worth a reconcile (by default every change is)."""
        return True

    def forget(self, key: str) -> None:
        """`key`'s object is gone: drop what the controller remembers and its timers."""
        self._skips.pop(key, None)
        self._deleted.pop(key, None)
        self.queue.forget(key)

    def observed(self, obj: Object) -> None:  # noqa: B027 - optional hook
        """A hook: a decision was just made about `obj`."""

    async def confirm(self, target: Target) -> Target | None:
        """A hook: re-decide on live data right before deleting (None: keep it after all)."""
        return target

    # --- running ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Sweep once the caches are synced, then reconcile changes, expiries and sweeps."""
        try:
            await self.synced()
            self._primed = True
            await self.sweep()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.queue.run(), name=self.queue.name)
                group.create_task(self._sweep_periodically(), name=f"{self.name}:sweep")
        finally:
            # Paused (not leading): queue nothing more. The next term starts with a sweep
            # that judges everything, so nothing needs remembering meanwhile.
            self._primed = False

    async def synced(self) -> None:
        """Wait for every cache this controller reads."""
        await self.informer.has_synced.wait()

    def reads(self) -> list[Informer[Any]]:
        """Every informer a decision of this controller reads."""
        return [self.informer]

    def stale(self) -> list[str]:
        """The informers read that are not synced and watching at this moment."""
        return [informer.name for informer in self.reads() if not informer.watching]

    async def fresh(self) -> None:
        """Return once every informer a decision reads is synced and watching.

        A cache whose watch is down misses deletions and changes of other objects (siblings,
        owners): deciding from it could delete what a fresh look would keep.
        """
        while stale := self.stale():
            if self._stale_since is None:
                self._stale_since = self.clock.monotonic()
                log.info("decisions wait for live caches", controller=self.name, stale=stale)
            await self.clock.sleep(FRESH_POLL)
        self._stale_since = None

    async def _sweep_periodically(self) -> None:
        interval = self.settings.controller.interval
        while True:
            await self.clock.sleep(interval)
            await self.sweep()

    def _on_change(self, kind: EventType, old: Object | None, new: Object | None) -> None:
        obj = new or old
        assert obj is not None
        if kind == "DELETED":
            self.forget(obj.key)  # nothing left to decide about it: no timer, no reconcile
        if not self._primed:
            return  # the first sweep will judge everything in the cache at once
        if kind != "DELETED" and self.wants(new):
            self.queue.add(obj.key)
        for key in self.related(obj):
            self.queue.add(key)

    # --- the safety-net sweep ---------------------------------------------------------------
    async def sweep(self) -> None:
        """Judge every cached object; enqueue what is due unless the guard stops the policy."""
        await self.fresh()
        started = time.perf_counter()
        objects = list(self.informer.values())
        due: dict[str, list[str]] = {policy: [] for policy in self.policies}
        for obj in objects:
            try:
                decision = await self._judge(obj)
            except failures.TRANSIENT as exc:
                self._failed(obj.key, exc)
                continue
            if isinstance(decision, Delete):
                due[decision.policy].append(obj.key)
            elif isinstance(decision, Wait):
                self.queue.add_at(obj.key, decision.until)
        for policy, keys in due.items():
            if self.deleter.sweep_allowed(policy, deleting=len(keys), total=len(objects),
                                          kind=self.resource.plural):
                for key in keys:
                    self.queue.add(key)
        elapsed = time.perf_counter() - started
        for policy in self.policies:
            metrics.CYCLE_DURATION.labels(policy=policy).observe(elapsed)
            metrics.LAST_RUN.labels(policy=policy).set(self.clock.now())
        log.info("sweep finished", controller=self.name, objects=len(objects),
                 due={policy: len(keys) for policy, keys in due.items()},
                 seconds=round(elapsed, 3))

    async def _judge(self, obj: Object) -> Decision:
        decision = await self.judge(obj)
        self.observed(obj)
        if isinstance(decision, Skip):
            self._count_skip(obj, decision)
        return decision

    def _count_skip(self, obj: Object, decision: Skip) -> None:
        """Count each object once per reason, however often it is looked at."""
        seen = (obj.metadata.uid, decision.reason)
        if self._skips.get(obj.key) == seen:
            return
        self._skips[obj.key] = seen
        if decision.reason not in self.quiet:
            metrics.SKIPPED.labels(policy=decision.policy, reason=decision.reason).inc()
        self.skipped(obj, decision)

    def skipped(self, obj: Object, decision: Skip) -> None:  # noqa: B027 - optional hook
        """A hook: `obj` was skipped for a reason not seen for it before."""

    def _failed(self, key: str, exc: BaseException, *, retry: bool = True) -> float:
        """Count and log a failed call about `key`; unless told otherwise, retry it later."""
        failures.count(self.policies[0], exc, first=self.queue.failures(key) == 0,
                       controller=self.name, key=key)
        at_least = failures.retry_after(exc)
        return self.queue.retry(key, at_least=at_least) if retry else at_least

    def readiness(self) -> str | None:
        """Why `/readyz` should fail for this controller, if it should."""
        stale = self._stale_since
        if stale is not None and self.clock.monotonic() - stale >= PERSISTENT:
            return f"decisions wait for live caches: {', '.join(self.stale()) or 'recovering'}"
        since = self.queue.failing_since()
        if since is not None and self.clock.monotonic() - since >= PERSISTENT:
            return f"API calls have been failing for {self.clock.monotonic() - since:.0f}s"
        return None

    # --- one key ----------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        """Re-read `key` from the cache, re-decide, and delete it if it is due."""
        try:
            return await self._reconcile(key)
        except failures.TRANSIENT as exc:
            return Retry(self._failed(key, exc, retry=False))

    async def _reconcile(self, key: str) -> Result:
        await self.fresh()
        obj = self.informer.get(key)
        if obj is None or self._deleted.get(key) == obj.metadata.uid:
            return DONE
        decision = await self._judge(obj)
        if isinstance(decision, Wait):
            return RequeueAt(decision.until)
        if not isinstance(decision, Delete):
            return DONE
        target = await self.confirm(Target(self.resource, obj.metadata, decision))
        if target is None:
            return DONE
        outcome = await self.deleter.delete(target, total=len(self.informer))
        if outcome in {Outcome.DELETED, Outcome.GONE} and key in self.informer:
            self._deleted[key] = obj.metadata.uid
        # BLOCKED: the guard stopped the policy; the next sweep judges everything due at
        # once before anything more is deleted.
        if outcome is Outcome.CONFLICT:
            # The object changed since the cache saw it (or its watch is behind): decide
            # again from the cache after a per-key backoff, never in a tight loop.
            return Retry()
        return DONE

