"""The DaemonSet controller: one pod on each Ready, schedulable node (bound there directly,
as the real controller's node affinity amounts to), none on the others; status counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitops_lifecycle.simulation.kubeapi.controllers.events import record
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    DAEMONSETS,
    NODES,
    PODS,
    Writer,
    active,
    controller_key,
    deleting,
    is_true,
    owned_pods,
    phase,
    pod_from_template,
    settled,
)
from gitops_lifecycle.simulation.kubeapi.kubelet import node_ready
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj

DAEMONSET = ("apps/v1", "DaemonSet")


class DaemonSets:
    """Keeps one pod per node."""

    name: str = "daemonset-controller"
    follows: tuple[str, ...] = (DAEMONSETS, PODS, NODES)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store
        self._managed: set[str] = set()

    def keys(self, change: Change) -> Iterable[str]:
        """The set that changed, the set owning a pod that did, or all when a node did."""
        if change.store == DAEMONSETS:
            return [] if change.type == "DELETED" else [change.key]
        if change.store == NODES:
            return self.all_keys()
        owner = controller_key(change.obj, "DaemonSet")
        return [] if owner is None else [owner]

    def all_keys(self) -> Iterable[str]:
        """Every DaemonSet."""
        return list(self._store.objects(DAEMONSETS))

    def reconcile(self, key: str, now: float) -> float | None:  # noqa: ARG002 -- no timers
        """Add the missing pods, remove those on nodes gone or not Ready, report."""
        owner = self._store.get(DAEMONSETS, key)
        if owner is None or deleting(owner):
            return None
        uid = owner["metadata"]["uid"]
        if uid not in self._managed and settled(owner):
            return None
        self._managed.add(uid)
        nodes = sorted(name for name, node in self._store.objects(NODES).items()
                       if node_ready(node) and not (node.get("spec") or {}).get("unschedulable"))
        pods = [pod for pod in owned_pods(self._writer.registry, owner) if active(pod)]
        placed = {(pod.get("spec") or {}).get("nodeName"): pod for pod in pods}
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") not in nodes:
                self._writer.delete(PODS, pod)
        pods = [placed.get(node) or self._create(owner, node) for node in nodes]
        ready = sum(1 for pod in pods if phase(pod) == "Running" and is_true(pod, "Ready"))
        status: dict[str, Any] = {
            **(owner.get("status") or {}), "desiredNumberScheduled": len(nodes),
            "currentNumberScheduled": len(pods), "updatedNumberScheduled": len(pods),
            "numberReady": ready, "numberAvailable": ready, "numberMisscheduled": 0,
            "numberUnavailable": len(nodes) - ready,
            "observedGeneration": owner["metadata"].get("generation", 1)}
        self._writer.status(DAEMONSETS, owner, status)
        return None

    def _create(self, owner: Obj, node: str) -> Obj:
        pod = self._writer.create(PODS, pod_from_template(owner, *DAEMONSET, node=node))
        record(self._writer, owner, DAEMONSET, "SuccessfulCreate",
               f"Created pod: {pod['metadata']['name']}", component=self.name)
        return pod

