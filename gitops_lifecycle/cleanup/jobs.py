"""Finished Jobs: which are eligible for deletion, and when.

A Job is eligible `ttl` after it finished (the Complete=True or Failed=True condition's
`lastTransitionTime`, falling back to `completionTime`), unless Kubernetes' own TTL
controller owns it (`ttlSecondsAfterFinished`), a CronJob's history limits do, or a GitOps
tool would re-create and re-run it. Deleting uses Background propagation: its pods go too.
"""

from __future__ import annotations

from gitops_lifecycle import logs
from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.cleanup.controller import CacheController
from gitops_lifecycle.cleanup.decision import (
    BEING_DELETED,
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
from gitops_lifecycle.kube.records import Job, Object
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.settings import CleanupSettings, JobPolicy

log = logs.get("cleanup.jobs")

COMPLETED = "completedJobs"
FAILED = "failedJobs"
POLICIES = (COMPLETED, FAILED)
METRIC_TYPE = {COMPLETED: "completed", FAILED: "failed"}
"""The `type` label of `gitops_cleanup_jobs_cleaned_total` for each policy."""

TTL_MANAGED_BY_KUBERNETES = "ttl_managed_by_kubernetes"
CRONJOB_OWNED = "cronjob_owned"
GITOPS_MANAGED = "gitops_managed"
HELM_HOOK = "helm_hook"
NOT_FINISHED = "not_finished"
NO_FINISH_TIME = "no_finish_time"
REASONS = (
    *COMMON_REASONS, TTL_MANAGED_BY_KUBERNETES, CRONJOB_OWNED, GITOPS_MANAGED, NOT_FINISHED,
    NO_FINISH_TIME, HELM_HOOK,
)


def decide(job: Job, now: float, settings: CleanupSettings) -> Decision:
    """Whether `job` may be deleted at `now`, and if not, why or from when."""
    policy = finished_policy(job)
    label = policy or COMPLETED  # skips before a Job finishes are counted under completedJobs
    reason = out_of_scope(job.metadata, settings) or _left_to_others(job, settings)
    if reason:
        return Skip(label, reason)
    if policy is None:
        return Skip(label, NOT_FINISHED)
    return _timed(job, policy, now, settings)


def _left_to_others(job: Job, settings: CleanupSettings) -> str | None:
    if job.metadata.deletion_timestamp:
        return BEING_DELETED
    if job.spec.ttl_seconds_after_finished is not None:
        return TTL_MANAGED_BY_KUBERNETES
    if marks.helm_hook(job.metadata.annotations):
        return HELM_HOOK
    if _cronjob_owned(job) and not settings.controller.policies.jobs.include_cron_job_owned:
        return CRONJOB_OWNED
    return None


def _timed(job: Job, policy: str, now: float, settings: CleanupSettings) -> Decision:
    config = _policy(policy, settings)
    if not config.enabled:
        return Skip(policy, POLICY_DISABLED)
    meta = job.metadata
    managed = marks.gitops_managed(meta.labels, meta.annotations)
    if managed and not settings.controller.policies.jobs.include_gitops_managed:
        return Skip(policy, GITOPS_MANAGED)
    finished = finish_time(job)
    if finished is None:
        return Skip(policy, NO_FINISH_TIME)
    try:
        expires = expiry(meta, start=finished, default=config.ttl)
    except marks.InvalidAnnotationError:
        return Skip(policy, INVALID_ANNOTATION)
    return timed(policy, expires=expires, now=now)


def _policy(policy: str, settings: CleanupSettings) -> JobPolicy:
    policies = settings.controller.policies
    return policies.completed_jobs if policy == COMPLETED else policies.failed_jobs


def _cronjob_owned(job: Job) -> bool:
    return any(ref.kind == "CronJob" for ref in job.metadata.owner_references or ())


def finished_policy(job: Job) -> str | None:
    """`completedJobs` or `failedJobs` once the Job has finished, else None."""
    for condition in job.status.conditions or ():
        if condition.status != "True":
            continue
        if condition.type == "Complete":
            return COMPLETED
        if condition.type == "Failed":
            return FAILED
    return None


def finish_time(job: Job) -> float | None:
    """When the Job finished: its terminal condition's transition time, else completionTime."""
    for condition in job.status.conditions or ():
        if condition.status == "True" and condition.type in {"Complete", "Failed"}:
            moment = seconds(condition.last_transition_time)
            if moment is not None:
                return moment
    return seconds(job.status.completion_time)


class JobsController(CacheController):
    """Deletes finished Jobs at the moment their TTL runs out (their pods go with them)."""

    name = "cleanup-jobs"
    resource = JOBS
    policies = POLICIES

    async def judge(self, obj: Object) -> Decision:
        """Decide from the cached Job alone."""
        assert isinstance(obj, Job)
        return decide(obj, self.clock.now(), self.settings)

    def skipped(self, obj: Object, decision: Skip) -> None:
        """Tell the user once per Job how to have a GitOps-managed Job cleaned up."""
        if decision.reason == GITOPS_MANAGED:
            log.info(
                "finished Job is applied by a GitOps tool, which would re-create and re-run it "
                "if it were deleted: set spec.ttlSecondsAfterFinished in Git instead (or "
                "cleanup.controller.policies.jobs.includeGitopsManaged)",
                key=obj.key, policy=decision.policy,
            )
