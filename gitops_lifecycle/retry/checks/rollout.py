"""`--for rollout`: a Deployment, DaemonSet or StatefulSet has finished rolling out.

The same tests `kubectl rollout status` makes, read from the object's status: the controller
has seen the current spec, every replica runs the new template, and they are available.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.retry.errors import NotReady, NotRetryable

KINDS = ("Deployment", "DaemonSet", "StatefulSet")


def check(obj: dict[str, Any]) -> None:
    """Return when rolled out; raise NotReady with what is still pending."""
    kind = obj.get("kind")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        raise NotReady("waiting for the controller to observe the current spec")
    if kind == "Deployment":
        _deployment(spec, status)
    elif kind == "DaemonSet":
        _daemon_set(spec, status)
    elif kind == "StatefulSet":
        _stateful_set(spec, status)
    else:
        raise NotRetryable(f"--for rollout works on {', '.join(KINDS)}, not {kind}")


def _deployment(spec: dict[str, Any], status: dict[str, Any]) -> None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and \
                condition.get("reason") == "ProgressDeadlineExceeded":
            raise NotRetryable(f"rollout exceeded its progress deadline: "
                               f"{condition.get('message', '')}".strip())
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if updated < wanted:
        raise NotReady(f"{updated} of {wanted} replicas updated")
    total = status.get("replicas", 0)
    if total > updated:
        raise NotReady(f"{total - updated} old replicas pending termination")
    available = status.get("availableReplicas", 0)
    if available < updated:
        raise NotReady(f"{available} of {updated} updated replicas available")


def _daemon_set(spec: dict[str, Any], status: dict[str, Any]) -> None:
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return  # OnDelete: nothing rolls out by itself; kubectl says the same
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    if updated < desired:
        raise NotReady(f"{updated} of {desired} pods updated")
    available = status.get("numberAvailable", 0)
    if available < desired:
        raise NotReady(f"{available} of {desired} updated pods available")


def _stateful_set(spec: dict[str, Any], status: dict[str, Any]) -> None:
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return
    wanted = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < wanted:
        raise NotReady(f"{ready} of {wanted} pods ready")
    partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
    if partition:
        updated = status.get("updatedReplicas", 0)
        if updated < wanted - partition:
            raise NotReady(f"{updated} of {wanted - partition} pods updated (partition "
                           f"{partition})")
        return
    if status.get("updateRevision") != status.get("currentRevision"):
        raise NotReady(f"{status.get('updatedReplicas', 0)} of {wanted} pods at revision "
                       f"{status.get('updateRevision')}")
