"""The Job controller: pods from the template until enough succeed, or the Job fails.

Acts on Jobs with no Complete or Failed condition (a Job seeded finished stays as written).
A suspended Job has its active pods stopped and waits, `Suspended`, until resumed.
It keeps `min(parallelism, completions - succeeded)` pods active, recreating failed ones after
a backoff of 10 s doubling (capped at 6 minutes); counts `active`, `ready`, `succeeded` and
`failed` (a container restart under `restartPolicy: OnFailure` counts as a failure); and
finishes the Job: Complete with `completionTime` once `completions` pods succeeded, Failed
with `BackoffLimitExceeded` past `backoffLimit` (default 6) or `DeadlineExceeded` once
`activeDeadlineSeconds` have passed since `startTime`, deleting the pods still active.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitops_lifecycle.clock import format_time, parse_time
from gitops_lifecycle.simulation.kubeapi.controllers.events import record
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    JOBS,
    PODS,
    Writer,
    active,
    deleting,
    is_true,
    owned_pods,
    phase,
    pod_from_template,
    with_condition,
)
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj, object_key

NAME, JOB = "job-controller", ("batch/v1", "Job")
BACKOFF_LIMIT, BACKOFF, BACKOFF_CAP = 6, 10.0, 360.0
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


def finished(job: Obj) -> bool:
    """Whether the Job has a True Complete or Failed condition."""
    return is_true(job, "Complete") or is_true(job, "Failed")


def _failures(pods: list[Obj]) -> int:
    failed = sum(1 for pod in pods if phase(pod) == "Failed")
    restarts = sum(status.get("restartCount", 0) for pod in pods if active(pod)
                   for status in (pod.get("status") or {}).get("containerStatuses") or ())
    return failed + int(restarts)


def _ready(pod: Obj) -> bool:
    return active(pod) and phase(pod) == "Running" and is_true(pod, "Ready")


def pod_for(job: Obj) -> Obj:
    """A new pod of the Job, from its template, labelled as the real controller does."""
    meta = job["metadata"]
    return pod_from_template(job, "batch/v1", "Job", labels={
        "batch.kubernetes.io/controller-uid": meta["uid"],
        "batch.kubernetes.io/job-name": meta["name"], "controller-uid": meta["uid"],
        "job-name": meta["name"]})


class Jobs:
    """Runs Jobs."""

    name: str = NAME
    follows: tuple[str, ...] = (JOBS, PODS)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store
        self._failed_at: dict[str, tuple[int, float]] = {}  # uid: failures seen, when

    def keys(self, change: Change) -> Iterable[str]:
        """The Job that changed, or the Job owning the pod that did."""
        if change.store == JOBS:
            return [] if change.type == "DELETED" else [change.key]
        meta = change.obj["metadata"]
        return [object_key(meta.get("namespace"), ref["name"])
                for ref in meta.get("ownerReferences") or ()
                if ref.get("controller") and ref.get("kind") == "Job"]

    def all_keys(self) -> Iterable[str]:
        """The Jobs not finished."""
        return [key for key, job in self._store.objects(JOBS).items() if not finished(job)]

    def reconcile(self, key: str, now: float) -> float | None:
        """Count the Job's pods, start more, or finish it."""
        job = self._store.get(JOBS, key)
        if job is None or finished(job) or deleting(job):
            return None
        spec, status = job.get("spec") or {}, dict(job.get("status") or {})
        if spec.get("suspend"):
            self._suspend(job, status, now)
            return None
        if is_true(job, "Suspended"):
            status = with_condition(status, "Suspended", "False", now=now, reason="JobResumed",
                                    message="Job resumed")
            status.pop("startTime", None)  # the active deadline counts from the resumption
        status.setdefault("startTime", format_time(now))
        pods = owned_pods(self._writer.registry, job)
        running = [pod for pod in pods if active(pod)]
        succeeded = sum(1 for pod in pods if phase(pod) == "Succeeded")
        failed = _failures(pods)
        status.update(active=len(running), ready=sum(map(_ready, pods)), succeeded=succeeded,
                      failed=failed, terminating=0)
        completions, parallelism = spec.get("completions"), spec.get("parallelism", 1)
        started = parse_time(status["startTime"]) or now
        deadline = spec.get("activeDeadlineSeconds")
        if failed > int(spec.get("backoffLimit", BACKOFF_LIMIT)):
            self._fail(job, status, running, now, BACKOFF_LIMIT_EXCEEDED)
            return None
        if deadline is not None and now >= started + deadline:
            self._fail(job, status, running, now, DEADLINE_EXCEEDED)
            return None
        if succeeded >= (completions or 1) and (completions is not None or not running):
            self._complete(job, status, now)
            return None
        again = self._start_pods(job, status, running, now, want=min(
            parallelism, (completions or 1) - succeeded) - len(running))
        self._writer.status(JOBS, job, status)
        if deadline is not None:
            again = min(again or started + deadline, started + deadline)
        return again

    def _suspend(self, job: Obj, status: dict[str, Any], now: float) -> None:
        """Stop the active pods; the Job waits, Suspended, until `suspend` is false again."""
        for pod in owned_pods(self._writer.registry, job):
            if active(pod):
                self._writer.delete(PODS, pod)
        status.update(active=0, ready=0)
        if not is_true(job, "Suspended"):
            status = with_condition(status, "Suspended", "True", now=now, reason="JobSuspended",
                                    message="Job suspended")
            record(self._writer, job, JOB, "Suspended", "Job suspended", component=NAME)
        self._writer.status(JOBS, job, status)

    def _start_pods(
        self, job: Obj, status: dict[str, Any], running: list[Obj], now: float, *, want: int,
    ) -> float | None:
        uid, failed = job["metadata"]["uid"], int(status["failed"])
        seen, when = self._failed_at.get(uid, (0, now))
        if failed > seen:
            self._failed_at[uid] = seen, when = failed, now
        backoff = min(BACKOFF * 2.0 ** (failed - 1), BACKOFF_CAP)
        if failed and now < when + backoff:
            return when + backoff
        for _ in range(max(want, 0)):
            pod = self._writer.create(PODS, pod_for(job))
            running.append(pod)
            record(self._writer, job, JOB, "SuccessfulCreate",
                   f"Created pod: {pod['metadata']['name']}", component=NAME)
        status["active"] = len(running)
        return None

    def _finish(self, job: Obj, status: dict[str, Any], now: float, *,
                conditions: tuple[str, str], why: tuple[str, str]) -> None:
        self._failed_at.pop(job["metadata"]["uid"], None)
        reason, message = why
        for kind in conditions:
            status = with_condition(status, kind, "True", now=now, reason=reason,
                                    message=message)
        self._writer.status(JOBS, job, status)

    def _complete(self, job: Obj, status: dict[str, Any], now: float) -> None:
        status["completionTime"] = format_time(now)
        self._finish(job, status, now, conditions=("SuccessCriteriaMet", "Complete"),
                     why=COMPLETIONS_REACHED)
        record(self._writer, job, JOB, "Completed", "Job completed", component=NAME)

    def _fail(self, job: Obj, status: dict[str, Any], running: list[Obj], now: float,
              why: tuple[str, str]) -> None:
        for pod in running:
            self._writer.delete(PODS, pod)
        status.update(active=0, ready=0)
        self._finish(job, status, now, conditions=("FailureTarget", "Failed"), why=why)
        record(self._writer, job, JOB, why[0], why[1], component=NAME, warning=True)
