"""The blast-radius guard: deleting too much of a kind within a window stops that policy.

Too much means more than `maxShare` of the objects of the kind AND more than `maxCount` of
them, counted over a sliding `window` of every deletion the policy made, whatever made it: a
sweep, a watch event or an expiry timer (and, across all policies, the same limits over all
their objects). A sweep is judged as a whole before anything is deleted; one deletion at a
time is judged as it is about to happen. A stopped policy deletes nothing until
`blastRadius.confirmed` is set, a later sweep is within bounds, or the window has passed
since it stopped: a mass deletion is more often a bad setting (a TTL of `1m` instead of `1h`)
than a real backlog. The window is a duration, measured on the monotonic clock: a wall clock
stepping forward neither forgets the deletions counted nor lifts a stop.
"""

from __future__ import annotations

import math
from collections import deque

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.settings import BlastRadius

log = logs.get("cleanup.guard")

ALL = "*"
"""The key of the limit over every policy together."""


class BlastRadiusGuard:
    """Counts each policy's deletions over the window and remembers which it stopped."""

    def __init__(self, settings: BlastRadius, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._deleted: dict[str, deque[float]] = {}
        """Policy → when (monotonic) each deletion within the window was admitted."""
        self._population: dict[str, tuple[int, float]] = {}
        """Policy → the most objects of its kind seen within the window, and when: the share
        is measured against the kind as it was before the window's deletions."""
        self._kind: dict[str, str] = {}
        """Policy → the kind it deletes: two policies of one kind (completed and failed Jobs)
        count its objects once in the limit over every policy."""
        self._stopped_until: dict[str, float] = {}
        self._fresh: list[str] = []

    # --- the limits ---------------------------------------------------------------------------
    def too_much(self, *, deleting: int, total: int) -> bool:
        """Whether deleting `deleting` of `total` objects exceeds both limits."""
        if self._settings.confirmed or total <= 0:
            return False
        return deleting > self._settings.max_count and deleting / total > self._settings.max_share

    def recent(self, policy: str) -> int:
        """Deletions by `policy` within the window."""
        times = self._deleted.get(policy)
        if not times:
            return 0
        horizon = self._clock.monotonic() - self._settings.window
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)

    # --- judging ------------------------------------------------------------------------------
    def population(self, policy: str, total: int | None = None, kind: str | None = None) -> int:
        """The most objects of `policy`'s kind seen within the window (noting `total`)."""
        if kind is not None:
            self._kind[policy] = kind
        now = self._clock.monotonic()
        peak, seen = self._population.get(policy, (0, now))
        if total is not None and (total >= peak or seen <= now - self._settings.window):
            self._population[policy] = peak, seen = total, now
        return peak

    def everything(self) -> int:
        """The objects of every kind a policy deletes, each kind counted once."""
        kinds: dict[str, int] = {}
        for policy in self._population:
            kind = self._kind.get(policy, policy)
            kinds[kind] = max(kinds.get(kind, 0), self.population(policy))
        return sum(kinds.values())

    def would_stop(self, policy: str, *, deleting: int, total: int) -> bool:
        """Whether a sweep deleting `deleting` of `total` now would be stopped (no record).

        The share is of the kind as it was before the window's deletions: deleting one by
        one never shrinks the base it is measured against.
        """
        base = self.population(policy, total)
        return self.too_much(deleting=self.recent(policy) + deleting, total=base)

    def judge(self, policy: str, *, deleting: int, total: int) -> bool:
        """A sweep's verdict for `policy` before it deletes anything: True to go ahead.

        A sweep within bounds also lifts an earlier stop of the policy.
        """
        if not self.would_stop(policy, deleting=deleting, total=total):
            self._stopped_until.pop(policy, None)
            return True
        self._stop(policy, would_delete=deleting, of=total)
        return False

    def admit(self, policy: str, *, total: int | None = None, kind: str | None = None) -> bool:
        """One deletion by `policy` (of `total` objects of `kind`) is about to be sent: count
        it, or stop the policy."""
        population = self.population(policy, total, kind)
        if self.blocked(policy):
            return False
        if self.would_stop(policy, deleting=1, total=population):
            self._stop(policy, would_delete=self.recent(policy) + 1, of=population)
            return False
        recent = sum(self.recent(name) for name in self._deleted)
        everything = self.everything()
        if self.too_much(deleting=recent + 1, total=everything):
            self._stop(ALL, would_delete=recent + 1, of=everything)
            return False
        self._deleted.setdefault(policy, deque()).append(self._clock.monotonic())
        return True

    def cancel(self, policy: str) -> None:
        """An admitted deletion did not happen (gone, changed, failed): uncount it."""
        times = self._deleted.get(policy)
        if times:
            times.pop()

    def blocked(self, policy: str) -> bool:
        """Whether `policy` (or every policy) is stopped at this moment."""
        return not self._settings.confirmed and self._clock.monotonic() < self.released_at(policy)

    def released_at(self, policy: str) -> float:
        """When (monotonic) a stop of `policy` ends by itself; -inf if not stopped."""
        return max(self._stopped_until.get(policy, -math.inf),
                   self._stopped_until.get(ALL, -math.inf))

    def newly_stopped(self) -> list[str]:
        """Policies (or `*`) stopped since the last call: each gets one warning."""
        fresh, self._fresh = self._fresh, []
        return fresh

    def _stop(self, policy: str, *, would_delete: int, of: int) -> None:
        was_stopped = self._clock.monotonic() < self._stopped_until.get(policy, -math.inf)
        self._stopped_until[policy] = self._clock.monotonic() + self._settings.window
        if was_stopped:
            return
        self._fresh.append(policy)
        metrics.BLAST_RADIUS_BLOCKED.labels(policy=policy).inc()
        log.error(
            "blast-radius guard stopped a policy: nothing more will be deleted until the "
            "settings are fixed, cleanup.blastRadius.confirmed is true, or the window passes",
            policy=policy, would_delete=would_delete, of=of,
            max_share=self._settings.max_share, max_count=self._settings.max_count,
            window_seconds=self._settings.window,
        )
