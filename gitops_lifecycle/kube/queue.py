"""The reconcile queue: controller-runtime's workqueue semantics on asyncio.

Keys are de-duplicated while they wait; a key is never reconciled by two workers at once (a
key added while it is being reconciled is reconciled again afterwards); a reconciler returns
`Done` or `RequeueAt(t)`, or raises, and errors are retried with per-key exponential backoff.
Controllers never sleep or retry themselves: only this queue does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.kube.scheduler import ExpiryScheduler

log = logs.get("queue")

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Done:
    """The reconciler finished with the key until something changes."""


@dataclass(frozen=True)
class RequeueAt:
    """The reconciler wants to look at the key again at clock time `at`."""

    at: float


@dataclass(frozen=True)
class Retry:
    """The attempt failed in a way worth retrying: back off per key (at least `at_least` s).

    The reconciler has already counted and logged the failure; the queue only waits, with
    the same exponential per-key backoff it gives a reconciler that raised.
    """

    at_least: float = 0.0


DONE = Done()
Result = Done | RequeueAt | Retry
Reconciler = Callable[[K], Awaitable[Result]]


class Backoff(Generic[K]):
    """Per-key exponential delays: `base` doubling on each failure up to `cap`."""

    def __init__(self, *, base: float = 0.005, cap: float = 300.0) -> None:
        self._base = base
        self._cap = cap
        self._failures: dict[K, int] = {}

    def next_delay(self, key: K) -> float:
        """Count one more failure of `key` and return how long to wait before retrying it."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return min(self._base * 2.0 ** min(failures, 64), self._cap)

    def failures(self, key: K) -> int:
        """How many times in a row `key` has failed."""
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """`key` succeeded: its next failure starts from `base` again."""
        self._failures.pop(key, None)


class ReconcileQueue(Generic[K]):
    """Feeds keys to `workers` concurrent calls of `reconcile`; a `Component`."""

    def __init__(
        self,
        *,
        name: str,
        reconcile: Reconciler[K],
        clock: Clock,
        workers: int = 1,
        backoff: Backoff[K] | None = None,
    ) -> None:
        self.controller = name
        self.name = f"queue:{name}"
        self._reconcile = reconcile
        self._clock = clock
        self._workers = workers
        self._backoff: Backoff[K] = backoff or Backoff()
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        # Requeues at a moment (an expiry) wait on wall time; retries wait out a duration.
        self._delayed: ExpiryScheduler[K] = ExpiryScheduler(
            clock=clock, fire=self.add, name=f"delays:{name}"
        )
        self._retries: ExpiryScheduler[K] = ExpiryScheduler(
            clock=clock, fire=self.add, name=f"retries:{name}", monotonic=True
        )
        self._retrying: dict[K, float] = {}
        """Keys whose reconciliation failed, with when it first failed (for RETRY_* metrics)."""
        self._depth = metrics.QUEUE_DEPTH.labels(controller=name)
        self._duration = metrics.RECONCILE_DURATION.labels(controller=name)
        for result in ("success", "requeue", "error"):
            metrics.RECONCILE_TOTAL.labels(controller=name, result=result)

    def add(self, key: K) -> None:
        """Reconcile `key` as soon as a worker is free (once, however often it is added)."""
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.put_nowait(key)
            self._depth.set(self._ready.qsize())

    def add_at(self, key: K, when: float) -> None:
        """Reconcile `key` at clock time `when`; an earlier pending time for it wins."""
        self._delay(key, self._delayed, when - self._clock.now())

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile `key` after `delay` seconds (monotonic: wall clock steps do not count)."""
        self._delay(key, self._retries, delay)

    def _delay(self, key: K, timers: ExpiryScheduler[K], delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        pending = [at - s.now() for s in (self._delayed, self._retries)
                   if (at := s.when(key)) is not None]
        if pending and min(pending) <= delay:
            return
        for other in (self._delayed, self._retries):
            if other is not timers:
                other.cancel(key)
        timers.schedule(key, timers.now() + delay)

    def forget(self, key: K) -> None:
        """`key`'s object is gone: drop its timers, its backoff and a reconcile still waiting.

        A reconcile already running finishes; a copy of the key still in the ready queue is
        skipped when a worker takes it.
        """
        self._delayed.cancel(key)
        self._retries.cancel(key)
        self._dirty.discard(key)
        self._backoff.forget(key)
        self._retrying.pop(key, None)

    @property
    def timers(self) -> int:
        """Keys with a pending timer: a requeue at a moment, or a retry after its backoff."""
        return len(self._delayed) + len(self._retries)

    def __len__(self) -> int:
        """Keys waiting for a worker (not counting those delayed)."""
        return self._ready.qsize()

    def failures(self, key: K) -> int:
        """How many times in a row reconciling `key` has failed."""
        return self._backoff.failures(key)

    def retry(self, key: K, *, at_least: float = 0.0) -> float:
        """Reconcile `key` again after its backoff (a failure outside a worker); the delay."""
        delay = max(self._backoff.next_delay(key), at_least)
        self._retrying.setdefault(key, self._clock.monotonic())
        metrics.RETRY_ATTEMPTS.labels(**self._retry_labels(key)).inc()
        self.add_after(key, delay)
        return delay

    def failing_since(self) -> float | None:
        """When (monotonic) the longest-failing key that has not succeeded since first failed."""
        return min(self._retrying.values(), default=None)

    async def run(self) -> None:
        """Run the workers and the delay timers until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._delayed.run(), name=self._delayed.name)
            group.create_task(self._retries.run(), name=self._retries.name)
            for index in range(self._workers):
                group.create_task(self._work(), name=f"{self.name}:{index}")

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            self._depth.set(self._ready.qsize())
            if key not in self._dirty or key in self._processing:
                continue  # forgotten while it waited, or a second copy of a re-added key
            self._processing.add(key)
            self._dirty.discard(key)
            try:
                await self._process(key)
            finally:
                self._processing.discard(key)
                if key in self._dirty:
                    self._ready.put_nowait(key)
                    self._depth.set(self._ready.qsize())

    async def _process(self, key: K) -> None:
        started = time.perf_counter()
        try:
            result = await self._reconcile(key)
        except Exception:
            delay = self._backoff.next_delay(key)
            log.exception(
                "reconcile failed", controller=self.controller, key=str(key), retry_in=delay
            )
            self._count("error", started)
            self._retrying.setdefault(key, self._clock.monotonic())
            metrics.RETRY_ATTEMPTS.labels(**self._retry_labels(key)).inc()
            self.add_after(key, delay)
            return
        if isinstance(result, Retry):
            self._count("error", started)
            self.retry(key, at_least=result.at_least)
            return
        self._backoff.forget(key)
        if (first_failed := self._retrying.pop(key, None)) is not None:
            self._retry_succeeded(key, self._clock.monotonic() - first_failed)
        if isinstance(result, RequeueAt):
            self._count("requeue", started)
            self.add_at(key, result.at)
        else:
            self._count("success", started)

    def _retry_labels(self, key: K) -> dict[str, str]:
        # The daemon's own retries share the `wait` metrics, under the controller's name.
        namespace = str(key).rpartition("/")[0]
        return {"operation": f"kubernetes:{self.controller}", "namespace": namespace}

    def _retry_succeeded(self, key: K, duration: float) -> None:
        """The attempt that finally worked, and how long the retrying took."""
        labels = self._retry_labels(key)
        metrics.RETRY_ATTEMPTS.labels(**labels).inc()
        metrics.RETRY_SUCCESS.labels(**labels).inc()
        metrics.RETRY_DURATION.labels(**labels).observe(duration)

    def _count(self, result: str, started: float) -> None:
        self._duration.observe(time.perf_counter() - started)
        metrics.RECONCILE_TOTAL.labels(controller=self.controller, result=result).inc()
