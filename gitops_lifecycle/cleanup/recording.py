"""Kubernetes Events about what the cleanup did, for `kubectl describe` and `kubectl events`.

A deletion is recorded on the object itself (its Event outlives it); Events deleted by the
events policy are recorded once per namespace, where the recorder's aggregation turns a
sweep into one Event with a count rather than one Event per deleted Event. A policy the
blast-radius guard stopped gets a Warning on the namespace the daemon runs in.
"""

from __future__ import annotations

from typing import Protocol

from gitops_lifecycle.cleanup.deleter import Target
from gitops_lifecycle.kube.records import ObjectReference
from gitops_lifecycle.kube.resources import EVENTS, NAMESPACES


class EventSink(Protocol):
    """The Kubernetes Event recorder's interface."""

    def record(
        self, involved: ObjectReference, *, type: str, reason: str, message: str  # noqa: A002
    ) -> None: ...


class CleanupEvents:
    """Turns cleanup outcomes into Kubernetes Events through an aggregating recorder."""

    def __init__(self, sink: EventSink | None, *, home_namespace: str) -> None:
        self._sink = sink
        self._home = _namespace(home_namespace)

    def deleted(self, target: Target, *, message: str) -> None:
        """Record one deletion on the object (or, for Events, on their namespace)."""
        if self._sink is None:
            return
        meta = target.meta
        if target.resource == EVENTS:
            involved = _namespace(meta.namespace)
            message = f"Deleted Events older than the events policy's TTL in {meta.namespace}"
        else:
            involved = ObjectReference(
                api_version=target.resource.api_version, kind=target.resource.kind,
                namespace=meta.namespace, name=meta.name, uid=meta.uid,
            )
        reason = "ForceDeleted" if target.decision.policy == "stuckPods" else "CleanedUp"
        self._sink.record(involved, type="Normal", reason=reason, message=message)

    def blocked(self, policy: str, *, message: str) -> None:
        """Warn that the blast-radius guard stopped `policy`."""
        if self._sink is not None:
            self._sink.record(self._home, type="Warning", reason="BlastRadiusExceeded",
                              message=f"{message} ({policy})")


def _namespace(name: str) -> ObjectReference:
    return ObjectReference(api_version="v1", kind=NAMESPACES.kind, name=name)
