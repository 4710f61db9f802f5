"""The scheduler: binds each pending pod to the Ready, schedulable node with the fewest pods.

A pod that names another `schedulerName` is left to that scheduler. With no node to take it,
the pod stays Pending with `PodScheduled: False (Unschedulable)`, as on a real cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from gitops_lifecycle.simulation.kubeapi.controllers.events import POD, record
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    NODES,
    PODS,
    Writer,
    deleting,
    phase,
    with_condition,
)
from gitops_lifecycle.simulation.kubeapi.kubelet import node_ready
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj

DEFAULT_SCHEDULER = "default-scheduler"


def _unscheduled(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return not spec.get("nodeName") and phase(pod) == "Pending" and not deleting(pod) and \
        spec.get("schedulerName", DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER


class Scheduler:
    """Binds pods to nodes."""

    name: str = "scheduler"
    follows: tuple[str, ...] = (PODS, NODES)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store

    def keys(self, change: Change) -> Iterable[str]:
        """A pod that may need a node; every waiting pod when a node changes."""
        if change.store == PODS:
            return [change.key] if change.type != "DELETED" and _unscheduled(change.obj) else []
        return self.all_keys()

    def all_keys(self) -> Iterable[str]:
        """The pods waiting for a node."""
        return [key for key, pod in self._store.objects(PODS).items() if _unscheduled(pod)]

    def _candidates(self) -> list[str]:
        return sorted(name for name, node in self._store.objects(NODES).items()
                      if node_ready(node) and not (node.get("spec") or {}).get("unschedulable"))

    def reconcile(self, key: str, now: float) -> float | None:
        """Bind the pod, or say why it cannot be."""
        pod = self._store.get(PODS, key)
        if pod is None or not _unscheduled(pod):
            return None
        nodes = self._candidates()
        if not nodes:
            total = len(self._store.objects(NODES))
            message = f"0/{total} nodes are available: no Ready, schedulable node."
            status = with_condition(pod.get("status") or {}, "PodScheduled", "False", now=now,
                                    reason="Unschedulable", message=message)
            if status != pod.get("status"):
                record(self._writer, pod, POD, "FailedScheduling", message,
                       component=DEFAULT_SCHEDULER, warning=True)
            self._writer.status(PODS, pod, status)
            return None
        load = Counter((p.get("spec") or {}).get("nodeName")
                       for p in self._store.objects(PODS).values())
        node = min(nodes, key=lambda name: (load[name], name))
        bound = self._writer.update(PODS, {**pod, "spec": {**pod["spec"], "nodeName": node}})
        status = with_condition(bound.get("status") or {}, "PodScheduled", "True", now=now)
        self._writer.status(PODS, bound, status)
        record(self._writer, bound, POD, "Scheduled",
               f"Successfully assigned {key} to {node}", component=DEFAULT_SCHEDULER)
        return None
