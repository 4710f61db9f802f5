"""Builds the cleanup controllers from the settings, on informers the daemon provides."""

from __future__ import annotations

from typing import Any, Protocol

from gitops_lifecycle import metrics
from gitops_lifecycle.cleanup import events, jobs, pods, replicasets
from gitops_lifecycle.cleanup.deleter import SKIP_REASONS, Deleter
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.cleanup.recording import CleanupEvents, EventSink
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.leader import Term
from gitops_lifecycle.kube.records import Deployment, Job, Object, Pod, R, ReplicaSet
from gitops_lifecycle.kube.resources import DEPLOYMENTS, JOBS, PODS, REPLICASETS, Resource
from gitops_lifecycle.manager import Component
from gitops_lifecycle.settings import Settings


class Informers(Protocol):
    """The daemon's shared informers: one per resource, running on every replica."""

    def __call__(self, resource: Resource, record: type[R]) -> Informer[R]: ...


REASONS = {
    jobs.COMPLETED: jobs.REASONS,
    jobs.FAILED: jobs.REASONS,
    pods.POLICY: pods.REASONS,
    events.POLICY: events.REASONS,
    replicasets.POLICY: replicasets.REASONS,
}


def initialise_metrics() -> None:
    """Create every (policy, reason) series of the skipped counter, and the stuck-pods gauge."""
    for policy, reasons in REASONS.items():
        for reason in (*reasons, *SKIP_REASONS):
            metrics.SKIPPED.labels(policy=policy, reason=reason)
    metrics.STUCK_PODS.set(0)


def controllers(  # noqa: PLR0913 - what the controllers are built from, keyword-only
    *,
    kube: Kube,
    settings: Settings,
    clock: Clock,
    informers: Informers,
    events_sink: EventSink | None = None,
    term: Term | None = None,
    guard: BlastRadiusGuard | None = None,
) -> list[Component]:
    """The enabled cleanup controllers (to run only while this replica leads).

    `term` is the leader's term, that every deletion runs within (None: no election);
    `guard` the blast-radius guard shared with every other deletion path.
    """
    cleanup = settings.cleanup_scope()
    initialise_metrics()
    if not cleanup.enabled:
        return []
    recorder = CleanupEvents(
        events_sink, home_namespace=settings.kubernetes.leader_election.lease_namespace
    )
    deleter = Deleter(kube=kube, settings=cleanup, clock=clock, recorder=recorder, term=term,
                      guard=guard)
    common: dict[str, Any] = {"deleter": deleter, "settings": cleanup, "clock": clock}
    policies = cleanup.controller.policies
    built: list[Component] = []
    if policies.completed_jobs.enabled or policies.failed_jobs.enabled:
        built.append(jobs.JobsController(informer=_any(informers(JOBS, Job)), **common))
    if policies.stuck_pods.enabled:
        built.append(pods.StuckPodsController(
            kube=kube, informer=_any(informers(PODS, Pod)), **common
        ))
    if policies.replica_sets.enabled:
        built.append(replicasets.ReplicaSetsController(
            kube=kube, informer=_any(informers(REPLICASETS, ReplicaSet)),
            deployments=informers(DEPLOYMENTS, Deployment), **common,
        ))
    if policies.events.enabled:
        built.append(events.EventsController(kube=kube, **common))
    return built


def _any(informer: Informer[R]) -> Informer[Object]:
    """Controllers read any record through its metadata; the informer's type is theirs."""
    return informer  # type: ignore[return-value]
