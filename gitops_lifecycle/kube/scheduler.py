"""Timers at absolute clock times, one per key, held in a heap and served by one task.

This is how an object is acted on at the moment it expires rather than at the next sweep:
a controller schedules its key for the expiry time, the timer fires the key into the
reconcile queue, and the reconciler re-reads and re-decides. Scheduling a key again replaces
its timer, so a timer set for an object that has since changed never fires.

Timers run on wall time (an expiry is a moment named by the API's timestamps) or, with
`monotonic=True`, on the clock's monotonic reading (a delay such as a retry's backoff, which
a wall clock stepped back must not stretch). Wall-time sleeps are cut into slices of at most
`WALL_SLICE` so that a wall clock stepped forward is noticed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from gitops_lifecycle import logs
from gitops_lifecycle.clock import Clock

log = logs.get("scheduler")

K = TypeVar("K", bound=Hashable)

WALL_SLICE = 60.0
"""The longest a wall-time sleep lasts before the scheduler reads the clock again."""

_COMPACT_SLACK = 1024
"""Replaced and cancelled timers stay in the heap until it holds this many more than live."""


class ExpiryScheduler(Generic[K]):
    """Calls `fire(key)` when the clock reaches the time the key was last scheduled for."""

    def __init__(
        self, *, clock: Clock, fire: Callable[[K], object], name: str = "scheduler",
        monotonic: bool = False,
    ) -> None:
        self.name = name
        self._clock = clock
        self._monotonic = monotonic
        self._fire = fire
        self._heap: list[tuple[float, int, K]] = []
        self._live: dict[K, tuple[float, int]] = {}
        self._sequence = itertools.count()
        self._changed = asyncio.Event()

    def now(self) -> float:
        """The time timers are set in: wall time, or the clock's monotonic reading."""
        return self._clock.monotonic() if self._monotonic else self._clock.now()

    def schedule(self, key: K, at: float) -> None:
        """Fire `key` at time `at` (see `now()`), replacing any timer it had."""
        entry = (at, next(self._sequence))
        self._live[key] = entry
        heapq.heappush(self._heap, (*entry, key))
        if self._heap[0][1] == entry[1]:
            self._changed.set()  # the earliest timer moved forward: the sleeper must wake
        self._compact()

    def cancel(self, key: K) -> None:
        """Forget `key`'s timer, if it has one."""
        self._live.pop(key, None)
        self._compact()

    def when(self, key: K) -> float | None:
        """The time `key` is scheduled for, or None."""
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    async def run(self) -> None:
        """Fire timers as they fall due, until cancelled."""
        while True:
            self._fire_due()
            self._changed.clear()
            if self._heap:
                await self._sleep_until(self._heap[0][0])
            else:
                await self._changed.wait()

    async def _sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if not self._monotonic:
            delay = min(delay, WALL_SLICE)
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            changed.cancel()
            await asyncio.gather(sleeper, changed, return_exceptions=True)

    def _fire_due(self) -> None:
        now = self.now()
        while self._heap and self._heap[0][0] <= now:
            at, sequence, key = heapq.heappop(self._heap)
            if self._live.get(key) != (at, sequence):
                continue  # replaced or cancelled since
            del self._live[key]
            try:
                self._fire(key)
            except Exception:
                log.exception("timer callback failed", scheduler=self.name, key=str(key))

    def _compact(self) -> None:
        if len(self._heap) <= 2 * len(self._live) + _COMPACT_SLACK:
            return
        self._heap = [(at, seq, key) for key, (at, seq) in self._live.items()]
        heapq.heapify(self._heap)
