"""How long this installation has watched each orphan stay orphaned: the age `maxAge` judges.

Not wall time. The first-seen time in the state ConfigMap is written by whichever replica led,
on its own wall clock: a clock stepped forward (NTP after a drift, a resumed VM) or a new
leader whose clock runs ahead would make an orphan due early. So each entry also carries
`observedSeconds`, which grows only by the monotonic time between two sweeps of one process
that both found the orphan — and only if the entry is still the one that process last wrote
(another leader's writes meanwhile break the chain; it resumes from the stored value). A gap
longer than `gap` (sweeps blocked, the daemon down) counts as `gap`: what was not watched
is not counted. Restarts keep what was observed; a clock step changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

from gitops_lifecycle.clock import Clock, format_time

OBSERVED = "observedSeconds"


class Orphan(Protocol):
    @property
    def application_pk(self) -> str: ...
    @property
    def provider_name(self) -> str: ...
    @property
    def source(self) -> str: ...


def observed(entry: dict[str, Any]) -> float:
    """Seconds of observation an entry records (0 for a missing or nonsensical value)."""
    value = entry.get(OBSERVED)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return max(0.0, float(value))


class Observation:
    """Carries each orphan's observed time from sweep to sweep of this process."""

    def __init__(self, clock: Clock, *, gap: float) -> None:
        self.clock = clock
        self.gap = gap
        self._last: dict[str, tuple[float, dict[str, Any]]] = {}
        """Application pk → (monotonic time of the last sweep that found it, the entry written)."""

    def update(self, state: dict[str, dict[str, Any]],
               found: Iterable[Orphan]) -> dict[str, dict[str, Any]]:
        """The new state: one entry per orphan found now, its observation carried forward."""
        mono = self.clock.monotonic()
        fresh: dict[str, dict[str, Any]] = {}
        for orphan in found:
            pk = orphan.application_pk
            stored = state.get(pk)
            entry: dict[str, Any] = dict(stored) if stored else {
                "firstSeen": format_time(self.clock.now()), "provider": orphan.provider_name,
                "proxyConfig": orphan.source,
            }
            seconds = observed(entry)
            last = self._last.get(pk)
            if last is not None and stored == last[1]:
                seconds += min(max(0.0, mono - last[0]), self.gap)
            entry[OBSERVED] = round(seconds, 3)
            fresh[pk] = entry
        self._last = {pk: (mono, entry) for pk, entry in fresh.items()}
        return fresh

    def forget(self, pk: str) -> None:
        self._last.pop(pk, None)
