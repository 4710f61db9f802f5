"""The one path every cleanup deletion takes.

DELETE with preconditions (uid and resourceVersion) so that a newer object with the same
name, or a changed one, is never hit: the API server answers 409 instead, and the caller
re-decides from the newer version. The precondition makes a live GET before deleting
unnecessary, so one deletion is one request. Propagation is always explicit (Background: a
Job's pods go with it). Dry-run changes nothing and reports; a token bucket caps the rate; a
policy the blast-radius guard stopped deletes nothing; every deletion is counted, timed from
the object's expiry, logged, and recorded as an aggregated Kubernetes Event.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from pydantic.alias_generators import to_snake

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.cleanup.decision import Delete
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ConflictError, NotFoundError
from gitops_lifecycle.kube.leader import NotLeadingError, Term
from gitops_lifecycle.kube.records import ObjectMeta, Pod
from gitops_lifecycle.kube.resources import PODS, Resource
from gitops_lifecycle.ratelimit import TokenBucket
from gitops_lifecycle.settings import CleanupSettings

log = logs.get("cleanup")


ALREADY_GONE = "already_gone"
CHANGED = "changed"
BLAST_RADIUS = "blast_radius_blocked"
SKIP_REASONS = (ALREADY_GONE, CHANGED, BLAST_RADIUS)
"""Reasons the deleter itself gives for not deleting what a policy selected."""


class Outcome(enum.Enum):
    """What became of one deletion attempt."""

    DELETED = "deleted"
    DRY_RUN = "dry_run"
    GONE = "gone"
    """404: someone else deleted it first."""
    CONFLICT = "conflict"
    """409: the object changed (or is a new one with the same name): re-decide."""
    BLOCKED = "blocked"
    """The blast-radius guard stopped this policy."""
    NOT_LEADING = "not_leading"
    """This replica's term of leadership ended (or would end) before the request finished."""


@dataclass(frozen=True, slots=True)
class Target:
    """An object a policy decided to delete, as it was when decided."""

    resource: Resource
    meta: ObjectMeta
    decision: Delete


class Recorder(Protocol):
    """Where the Kubernetes Events about deletions go (aggregated by the implementation)."""

    def deleted(self, target: Target, *, message: str) -> None: ...

    def blocked(self, policy: str, *, message: str) -> None: ...


def count_cleaned(policy: str) -> None:
    """Increment the seed's per-policy counter of deleted objects."""
    if policy == "completedJobs":
        metrics.JOBS_CLEANED.labels(type="completed").inc()
    elif policy == "failedJobs":
        metrics.JOBS_CLEANED.labels(type="failed").inc()
    elif policy == "stuckPods":
        metrics.STUCK_RESOURCES_CLEANED.inc()
    elif policy == "events":
        metrics.EVENTS_CLEANED.inc()
    elif policy == "replicaSets":
        metrics.REPLICASETS_CLEANED.inc()


class Deleter:
    """Deletes what the policies select: guarded, rate-limited, counted, recorded."""

    def __init__(  # noqa: PLR0913 - collaborators, all keyword-only
        self,
        *,
        kube: Kube,
        settings: CleanupSettings,
        clock: Clock,
        recorder: Recorder,
        guard: BlastRadiusGuard | None = None,
        term: Term | None = None,
    ) -> None:
        """`term` is this replica's term of leadership: no deletion starts or stays in
        flight past it, and one left unanswered holds the handover back."""
        self._kube = kube
        self._term = term
        self._settings = settings
        self._clock = clock
        self.recorder = recorder
        self.guard = guard or BlastRadiusGuard(settings.blast_radius, clock)
        rate = settings.rate_limit
        # On the daemon's clock: `perSecond` of simulated time in the demo and under test.
        self._limiter = TokenBucket(clock=clock, rate=rate.per_second, burst=rate.burst)

    def dry_run(self, policy: str) -> bool:
        """Whether `policy` only reports (globally or by its own setting)."""
        if self._settings.dry_run:
            return True
        policies = self._settings.controller.policies
        return bool(getattr(policies, to_snake(policy)).dry_run)

    def sweep_allowed(self, policy: str, *, deleting: int, total: int, kind: str) -> bool:
        """Whether a sweep of `policy` may delete `deleting` of `total` objects.

        In dry-run the answer is always yes, so that every object is reported; what the
        guard would have done is logged and counted, never written as an Event.
        """
        if self.dry_run(policy):
            if self.guard.would_stop(policy, deleting=deleting, total=total):
                metrics.BLAST_RADIUS_BLOCKED.labels(policy=policy).inc()
                log.warning("dry run: the blast-radius guard would stop this sweep",
                            policy=policy, would_delete=deleting, of=total)
            return True
        allowed = self.guard.judge(policy, deleting=deleting, total=total)
        self._warn(f"it would delete {deleting} of {total} {kind}")
        return allowed

    async def delete(self, target: Target, *, total: int | None = None) -> Outcome:
        """Delete `target` if it is still the object that was decided on.

        `total` is how many objects of its kind there are (for the guard's share).
        """
        policy = target.decision.policy
        if self.dry_run(policy):
            return self._report(target)
        if not self.guard.admit(policy, total=total, kind=target.resource.plural):
            metrics.SKIPPED.labels(policy=policy, reason=BLAST_RADIUS).inc()
            window = self._settings.blast_radius.window
            self._warn(f"it deleted too many within {window:g}s")
            return Outcome.BLOCKED
        try:
            outcome = await self._send(target)
        except BaseException:
            self.guard.cancel(policy)
            raise
        if outcome is not Outcome.DELETED:
            self.guard.cancel(policy)
        return outcome

    def _warn(self, why: str) -> None:
        """One Warning Event per stop of the guard (never in dry-run: that only reports)."""
        for policy in self.guard.newly_stopped():
            self.recorder.blocked(
                policy, message=f"Cleanup policy {policy} stopped: {why}; fix the settings or "
                "set cleanup.blastRadius.confirmed",
            )

    async def _send(self, target: Target) -> Outcome:
        """One rate-limited DELETE, within this replica's term of leadership."""
        await self._limiter.acquire()
        try:
            if self._term is None:
                await self._request(target)
            else:
                await self._term.write(lambda: self._request(target))
        except NotLeadingError as exc:
            log.info("deletion not made", key=target.meta.key, why=str(exc))
            return Outcome.NOT_LEADING
        except NotFoundError:
            return self._skipped(target, Outcome.GONE)
        except ConflictError:
            return self._skipped(target, Outcome.CONFLICT)
        return self._done(target)

    async def _request(self, target: Target) -> None:
        meta = target.meta
        version = meta.resource_version
        grace = None
        if target.resource == PODS:
            version = await self._fail_pod(meta)
            grace = 0
        await self._kube.delete(
            target.resource, meta.name, namespace=meta.namespace or None, uid=meta.uid,
            resource_version=version, propagation_policy="Background",
            grace_period_seconds=grace,
        )

    async def _fail_pod(self, meta: ObjectMeta) -> str:
        """Set phase Failed before forcing, as the pod garbage collector does; guarded too."""
        body = {
            "metadata": {"uid": meta.uid, "resourceVersion": meta.resource_version},
            "status": {"phase": "Failed"},
        }
        pod = await self._kube.patch(
            PODS, meta.name, body, record=Pod, namespace=meta.namespace, subresource="status",
        )
        return pod.metadata.resource_version

    def _done(self, target: Target) -> Outcome:
        decision = target.decision
        lag = max(0.0, self._clock.now() - decision.expired_at)
        count_cleaned(decision.policy)
        metrics.DELETION_LAG.labels(policy=decision.policy).observe(lag)
        log.info(
            "deleted", policy=decision.policy, kind=target.resource.kind, key=target.meta.key,
            uid=target.meta.uid, why=decision.why, lag_seconds=round(lag, 3),
        )
        self.recorder.deleted(target, message=_message(target))
        return Outcome.DELETED

    def _report(self, target: Target) -> Outcome:
        decision = target.decision
        metrics.DRY_RUN.labels(policy=decision.policy).inc()
        log.info(
            "dry run: would delete", policy=decision.policy, kind=target.resource.kind,
            key=target.meta.key, uid=target.meta.uid, why=decision.why,
        )
        return Outcome.DRY_RUN

    def _skipped(self, target: Target, outcome: Outcome) -> Outcome:
        reason = ALREADY_GONE if outcome is Outcome.GONE else CHANGED
        metrics.SKIPPED.labels(policy=target.decision.policy, reason=reason).inc()
        log.debug("not deleted", policy=target.decision.policy, key=target.meta.key,
                  reason=reason)
        return outcome


def _message(target: Target) -> str:
    decision = target.decision
    if decision.policy == "stuckPods":
        return f"Force-deleted pod stuck Terminating ({decision.why})"
    return f"Deleted by cleanup policy {decision.policy} ({decision.why})"
