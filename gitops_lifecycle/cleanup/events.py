"""Old Events: which are eligible for deletion, and when.

An Event is eligible `ttl` after it was last seen: the newest of `lastTimestamp`,
`eventTime` and `series.lastObservedTime` (falling back to `firstTimestamp`, then its
creation). Events churn, so they are found by a paginated sweep every `interval`, namespace
by namespace, never by a watch.
"""

from __future__ import annotations

from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.cleanup.decision import (
    COMMON_REASONS,
    INVALID_ANNOTATION,
    POLICY_DISABLED,
    Decision,
    Skip,
    expiry,
    out_of_scope,
    seconds,
    timed,
)
from gitops_lifecycle.kube.records import Event
from gitops_lifecycle.settings import CleanupSettings

POLICY = "events"
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
