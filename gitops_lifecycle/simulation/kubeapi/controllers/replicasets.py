"""The ReplicaSet and ReplicationController controllers: keep `spec.replicas` pods running.

Acts on sets created through the API, and on restored ones once their spec changes (a set
seeded with a status that observed its generation stays as written). Surplus pods go Pending
ones first, then the newest. Status counts replicas, ready and available pods.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitops_lifecycle.simulation.kubeapi.controllers.events import record
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    PODS,
    REPLICASETS,
    REPLICATION_CONTROLLERS,
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
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj


def _ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_true(pod, "Ready")


class ReplicaSets:
    """Keeps a set's pods at its replica count."""

    def __init__(self, writer: Writer, *, storage: str = REPLICASETS,
                 api_version: str = "apps/v1", kind: str = "ReplicaSet") -> None:
        self._writer = writer
        self._store = writer.registry.store
        self._storage, self._api_version, self._kind = storage, api_version, kind
        self.name: str = f"{kind.lower()}-controller"
        self.follows: tuple[str, ...] = (storage, PODS)
        self._managed: set[str] = set()  # uids it has acted on: settled or not, it goes on

    def keys(self, change: Change) -> Iterable[str]:
        """The set that changed, or the set owning the pod that did."""
        if change.store == self._storage:
            return [] if change.type == "DELETED" else [change.key]
        owner = controller_key(change.obj, self._kind)
        return [] if owner is None else [owner]

    def all_keys(self) -> Iterable[str]:
        """Every set."""
        return list(self._store.objects(self._storage))

    def reconcile(self, key: str, now: float) -> float | None:  # noqa: ARG002 -- no timers
        """Create or delete pods to match the replica count; update the status."""
        owner = self._store.get(self._storage, key)
        if owner is None or deleting(owner):
            return None
        uid = owner["metadata"]["uid"]
        if uid not in self._managed and settled(owner):
            return None
        self._managed.add(uid)
        pods = [pod for pod in owned_pods(self._writer.registry, owner) if active(pod)]
        want = int((owner.get("spec") or {}).get("replicas", 1))
        ref = (self._api_version, self._kind)
        for _ in range(want - len(pods)):
            pod = self._writer.create(PODS, pod_from_template(owner, *ref))
            pods.append(pod)
            record(self._writer, owner, ref, "SuccessfulCreate",
                   f"Created pod: {pod['metadata']['name']}", component=self.name)
        if len(pods) > want:
            newest = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
            doomed = sorted(newest, key=lambda p: phase(p) != "Pending")[: len(pods) - want]
            for pod in doomed:
                self._writer.delete(PODS, pod)
                record(self._writer, owner, ref, "SuccessfulDelete",
                       f"Deleted pod: {pod['metadata']['name']}", component=self.name)
            pods = [pod for pod in pods if pod not in doomed]
        ready = sum(map(_ready, pods))
        status: dict[str, Any] = {
            **(owner.get("status") or {}), "replicas": len(pods),
            "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": owner["metadata"].get("generation", 1)}
        self._writer.status(self._storage, owner, status)
        return None



def replication_controllers(writer: Writer) -> ReplicaSets:
    """The same controller for core/v1 ReplicationControllers."""
    return ReplicaSets(writer, storage=REPLICATION_CONTROLLERS, api_version="v1",
                       kind="ReplicationController")
