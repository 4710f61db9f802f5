"""The CronJob controller: a Job at each time the schedule names, and the history trimmed.

At the latest scheduled time not yet run (missed ones before it are skipped, as the real
controller does once it falls behind; none past `startingDeadlineSeconds`), it creates the
Job `<name>-<minutes since the epoch>` from `jobTemplate` — unless `concurrencyPolicy: Forbid`
and one still runs (it starts when that one ends), or after deleting the running ones under
`Replace`. It keeps `successfulJobsHistoryLimit` (3) and `failedJobsHistoryLimit` (1) finished
Jobs, and reports `active`, `lastScheduleTime` and `lastSuccessfulTime`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from gitops_lifecycle.clock import format_time, parse_time
from gitops_lifecycle.simulation.kubeapi.controllers.events import record
from gitops_lifecycle.simulation.kubeapi.controllers.jobs import finished
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    CRONJOBS,
    JOBS,
    Writer,
    controller_key,
    deleting,
    is_true,
    owner_reference,
)
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj

SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"
CRONJOB = ("batch/v1", "CronJob")


def schedule_times(spec: dict[str, Any], now: float) -> tuple[float, float] | None:
    """The latest scheduled time at or before `now`, and the next one after it."""
    schedule = str(spec.get("schedule") or "")
    if not croniter.is_valid(schedule):
        return None
    zone = ZoneInfo(spec.get("timeZone") or "UTC")
    moment = datetime.fromtimestamp(now, zone)
    latest = croniter(schedule, moment).get_prev(float)
    upcoming = croniter(schedule, moment).get_next(float)
    if now % 60 == 0 and croniter.match(schedule, moment):  # get_prev is strictly before
        latest = now
    return latest, upcoming


def _finished_at(job: Obj) -> str:
    status = job.get("status") or {}
    return str(status.get("completionTime") or job["metadata"].get("creationTimestamp") or "")


class CronJobs:
    """Creates Jobs on schedule."""

    name: str = "cronjob-controller"
    follows: tuple[str, ...] = (CRONJOBS, JOBS)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store

    def keys(self, change: Change) -> Iterable[str]:
        """The CronJob that changed, or the one owning the Job that did."""
        if change.store == CRONJOBS:
            return [] if change.type == "DELETED" else [change.key]
        owner = controller_key(change.obj, "CronJob")
        return [] if owner is None else [owner]

    def all_keys(self) -> Iterable[str]:
        """Every CronJob."""
        return list(self._store.objects(CRONJOBS))

    def reconcile(self, key: str, now: float) -> float | None:
        """Start the Job that is due, trim the history, report; when the next one is due."""
        cronjob = self._store.get(CRONJOBS, key)
        if cronjob is None or deleting(cronjob):
            return None
        spec = cronjob.get("spec") or {}
        times = schedule_times(spec, now)
        if times is None:
            return None
        latest, upcoming = times
        jobs = [job for job in self._writer.registry.dependents(cronjob["metadata"]["uid"], JOBS)
                if controller_key(job, "CronJob") == key and not deleting(job)]
        status = dict(cronjob.get("status") or {})
        last = parse_time(status.get("lastScheduleTime")) or \
            parse_time(cronjob["metadata"].get("creationTimestamp")) or now
        deadline = spec.get("startingDeadlineSeconds")
        due = latest > last and not spec.get("suspend") and \
            (deadline is None or now - latest <= float(deadline))
        running = [job for job in jobs if not finished(job)]
        if due and running and spec.get("concurrencyPolicy") == "Forbid":
            due = False
        if due:
            if spec.get("concurrencyPolicy") == "Replace":
                for job in running:
                    self._writer.delete(JOBS, job)
                    record(self._writer, cronjob, CRONJOB, "SuccessfulDelete",
                           f"Deleted job {job['metadata']['name']}", component=self.name)
                running = []
            running.append(started := self._start(cronjob, latest))
            record(self._writer, cronjob, CRONJOB, "SuccessfulCreate",
                   f"Created job {started['metadata']['name']}", component=self.name)
            status["lastScheduleTime"] = format_time(latest)
        jobs = self._trim(cronjob, [job for job in jobs if finished(job)]) + running
        self._report(cronjob, status, jobs)
        return upcoming

    def _start(self, cronjob: Obj, when: float) -> Obj:
        meta = cronjob["metadata"]
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        name = f"{meta['name']}-{int(when // 60)}"
        existing = self._store.get(JOBS, f"{meta['namespace']}/{name}")
        if existing is not None:
            return existing
        return self._writer.create(JOBS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
            "name": name, "namespace": meta["namespace"],
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": {**(tmeta.get("annotations") or {}), SCHEDULED: format_time(when)},
            "ownerReferences": [owner_reference("batch/v1", "CronJob", cronjob)]},
            "spec": dict(template.get("spec") or {})}, meta["namespace"])

    def _trim(self, cronjob: Obj, done: list[Obj]) -> list[Obj]:
        spec = cronjob.get("spec") or {}
        kept: list[Obj] = []
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                            ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            group = sorted((job for job in done if is_true(job, kind)), key=_finished_at)
            cut = max(len(group) - int(limit), 0)
            for job in group[:cut]:
                self._writer.delete(JOBS, job)
                record(self._writer, cronjob, CRONJOB, "SuccessfulDelete",
                       f"Deleted job {job['metadata']['name']}", component=self.name)
            kept += group[cut:]
        return kept

    def _report(self, cronjob: Obj, status: dict[str, Any], jobs: list[Obj]) -> None:
        running = sorted((job for job in jobs if not finished(job)),
                         key=lambda job: job["metadata"]["name"])
        status["active"] = [{"apiVersion": "batch/v1", "kind": "Job",
                             "namespace": job["metadata"]["namespace"],
                             "name": job["metadata"]["name"], "uid": job["metadata"]["uid"],
                             "resourceVersion": job["metadata"]["resourceVersion"]}
                            for job in running]
        if not status["active"]:
            del status["active"]
        succeeded = [_finished_at(job) for job in jobs if is_true(job, "Complete")]
        if succeeded:
            status["lastSuccessfulTime"] = max(succeeded)
        self._writer.status(CRONJOBS, cronjob, status)
