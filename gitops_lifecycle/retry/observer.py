"""Retry metrics for `wait` runs, read from the termination messages of finished containers.

Init containers live too briefly to scrape, so the daemon's pod informer hands every pod
change to `RetryObserver`, which finds containers that ended with our JSON summary and counts
each run once: a run is (pod uid, container, restart count). Runs that finished before the
observer started are left alone, so a restarted daemon does not count them again; the
timestamps have one-second resolution, so a run finishing in the very second the daemon
starts may be counted by both the old and the new daemon.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

from gitops_lifecycle import metrics
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.retry import summary

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gitops_lifecycle.kube.informer import Informer
    from gitops_lifecycle.kube.records import ContainerStateTerminated, ContainerStatus, Pod

READY = "ready"


def count(*, operation: str, namespace: str, attempts: int, outcome: str,
          duration: float) -> None:
    """Add one finished retried operation to the RETRY_* metrics."""
    labels = {"operation": operation, "namespace": namespace}
    metrics.RETRY_ATTEMPTS.labels(**labels).inc(attempts)
    finished = metrics.RETRY_SUCCESS if outcome == READY else metrics.RETRY_FAILURE
    finished.labels(**labels).inc()
    metrics.RETRY_DURATION.labels(**labels).observe(duration)


def _runs(status: ContainerStatus) -> Iterator[tuple[int, ContainerStateTerminated]]:
    """The container's finished runs still on record: (run number, how it ended)."""
    if status.state.terminated is not None:
        yield status.restart_count, status.state.terminated
    if status.last_state.terminated is not None:
        yield status.restart_count - 1, status.last_state.terminated


class RetryObserver:
    """Counts each `wait` run of each pod's containers exactly once (an informer subscriber)."""

    def __init__(self, *, clock: Clock | None = None, started: float | None = None) -> None:
        self._clock = clock or Clock()
        moment = self._clock.now() if started is None else started
        # finishedAt has whole seconds: compare against the start truncated the same way.
        self._since = math.floor(moment)
        self._seen: dict[str, set[tuple[str, int]]] = {}

    def __call__(self, event_type: str, old: Pod | None, new: Pod | None) -> None:
        """Handle one informer event: (type, old, new)."""
        if event_type == "DELETED" or new is None:
            if old is not None:
                self._seen.pop(old.metadata.uid, None)
            return
        self.observe(new)

    def observe(self, pod: Pod) -> None:
        """Count the runs of `pod` that ended with our summary and were not counted before."""
        statuses = (*pod.status.init_container_statuses, *pod.status.container_statuses)
        for status in statuses:
            for run, terminated in _runs(status):
                self._consider(pod, status.name, run, terminated)

    def _consider(self, pod: Pod, container: str, run: int,
                  terminated: ContainerStateTerminated) -> None:
        seen = self._seen.setdefault(pod.metadata.uid, set())
        if (container, run) in seen:
            return
        seen.add((container, run))
        finished = terminated.finished_at
        if finished is None or finished.timestamp() < self._since:
            return
        found = summary.parse(terminated.message)
        if found is None:
            return
        count(operation=found.check, namespace=pod.metadata.namespace,
              attempts=found.attempts, outcome=found.outcome, duration=found.duration_seconds)


class RetryMetrics:
    """Feeds pod changes to a `RetryObserver` while this replica leads (a controller).

    Only the leader counts, so that two replicas do not both count the same run; a new leader
    counts the runs that finish from the moment it takes over.
    """

    name = "retry-metrics"

    def __init__(self, *, pods: Informer[Pod], clock: Clock) -> None:
        self._clock = clock
        self._observer: RetryObserver | None = None
        pods.subscribe(self._on_change)

    def _on_change(self, event_type: str, old: Pod | None, new: Pod | None) -> None:
        if self._observer is not None:
            self._observer(event_type, old, new)

    async def run(self) -> None:
        """Count until cancelled (leadership lost or shutdown)."""
        self._observer = RetryObserver(clock=self._clock)
        try:
            await asyncio.Future()
        finally:
            self._observer = None
