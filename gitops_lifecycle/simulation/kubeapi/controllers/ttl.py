"""The TTL-after-finished controller: deletes a finished Job `ttlSecondsAfterFinished` after it
finished (its `completionTime`, or the Complete/Failed condition's transition), with
foreground propagation, as kube-controller-manager's ttlafterfinished controller does.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitops_lifecycle.clock import parse_time
from gitops_lifecycle.simulation.kubeapi.controllers.jobs import finished
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    JOBS,
    Writer,
    condition,
    deleting,
)
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj


def finish_time(job: Obj) -> float | None:
    """When the Job finished, if it did."""
    if not finished(job):
        return None
    for kind in ("Complete", "Failed"):
        found = condition(job, kind)
        if found is not None and found.get("status") == "True":
            return parse_time((job.get("status") or {}).get("completionTime")) or \
                parse_time(found.get("lastTransitionTime"))
    return None


def _eligible(job: Obj) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and \
        finished(job) and not deleting(job)


class TtlAfterFinished:
    """Deletes finished Jobs at their TTL."""

    name: str = "ttl-after-finished-controller"
    follows: tuple[str, ...] = (JOBS,)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store

    def keys(self, change: Change) -> Iterable[str]:
        """A Job that changed and has a TTL."""
        return [change.key] if change.type != "DELETED" and _eligible(change.obj) else []

    def all_keys(self) -> Iterable[str]:
        """The finished Jobs with a TTL."""
        return [key for key, job in self._store.objects(JOBS).items() if _eligible(job)]

    def reconcile(self, key: str, now: float) -> float | None:
        """Delete the Job once its TTL has passed; otherwise, when to look again."""
        job = self._store.get(JOBS, key)
        if job is None or not _eligible(job):
            return None
        when = finish_time(job)
        if when is None:
            return None
        expires = when + float(job["spec"]["ttlSecondsAfterFinished"])
        if now < expires:
            return expires
        self._writer.delete(JOBS, job, policy="Foreground")
        return None
