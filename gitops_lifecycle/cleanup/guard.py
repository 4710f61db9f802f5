"""The blast-radius guard: a sweep that would delete too much of a kind stops.

Too much means more than `maxShare` of the objects the sweep looked at AND more than
`maxCount` of them. A stopped policy deletes nothing (not even one object at its own expiry)
until a later sweep is within bounds or `blastRadius.confirmed` is set: a mass deletion is
more often a bad setting (a TTL of `1m` instead of `1h`) than a real backlog.
"""

from __future__ import annotations

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.settings import BlastRadius

log = logs.get("cleanup.guard")


class BlastRadiusGuard:
    """Judges each sweep's deletion count and remembers which policies it stopped."""

    def __init__(self, settings: BlastRadius) -> None:
        self._settings = settings
        self._blocked: set[str] = set()

    def too_much(self, *, deleting: int, total: int) -> bool:
        """Whether deleting `deleting` of `total` objects exceeds both limits."""
        if self._settings.confirmed or total == 0:
            return False
        return deleting > self._settings.max_count and deleting / total > self._settings.max_share

    def judge(self, policy: str, *, deleting: int, total: int) -> bool:
        """Record a sweep's verdict for `policy`: True when it may go ahead."""
        if not self.too_much(deleting=deleting, total=total):
            self._blocked.discard(policy)
            return True
        self._blocked.add(policy)
        metrics.BLAST_RADIUS_BLOCKED.labels(policy=policy).inc()
        log.error(
            "blast-radius guard stopped a sweep: nothing will be deleted until the settings "
            "are fixed or cleanup.blastRadius.confirmed is true",
            policy=policy, would_delete=deleting, of=total,
            max_share=self._settings.max_share, max_count=self._settings.max_count,
        )
        return False

    def blocked(self, policy: str) -> bool:
        """Whether the last sweep of `policy` was stopped."""
        return policy in self._blocked
