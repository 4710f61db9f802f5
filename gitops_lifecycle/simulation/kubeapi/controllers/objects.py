"""What the controllers share: reading conditions and owners, and writing through the registry."""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation.kubeapi.catalog import BUILTIN
from gitops_lifecycle.simulation.kubeapi.registry import DeleteOptions, Registry
from gitops_lifecycle.simulation.kubeapi.store import Obj, object_key

PODS, NODES, JOBS = "/pods", "/nodes", "batch/jobs"
CRONJOBS, REPLICASETS, DEPLOYMENTS = "batch/cronjobs", "apps/replicasets", "apps/deployments"
DAEMONSETS, REPLICATION_CONTROLLERS = "apps/daemonsets", "/replicationcontrollers"
TERMINAL = frozenset({"Succeeded", "Failed"})


def key_of(obj: Obj) -> str:
    """The storage key of a stored object."""
    meta = obj["metadata"]
    return object_key(meta.get("namespace"), meta["name"])


def condition(obj: Obj, kind: str) -> dict[str, Any] | None:
    """The condition of that type, if the object has it."""
    for found in (obj.get("status") or {}).get("conditions") or ():
        if found.get("type") == kind:
            return dict(found)
    return None


def is_true(obj: Obj, kind: str) -> bool:
    """Whether the condition of that type is True."""
    found = condition(obj, kind)
    return found is not None and found.get("status") == "True"


def with_condition(  # noqa: PLR0913 -- the fields of a condition
    status: dict[str, Any], kind: str, value: str, *, now: float, reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    """`status` with the condition set; its transition time moves only when its value does."""
    conditions = [dict(c) for c in status.get("conditions") or ()]
    when = format_time(now)
    for existing in conditions:
        if existing.get("type") == kind:
            if existing.get("status") != value:
                existing["lastTransitionTime"] = when
            existing.update(status=value, reason=reason, message=message)
            break
    else:
        conditions.append({"type": kind, "status": value, "reason": reason, "message": message,
                           "lastTransitionTime": when})
    return {**status, "conditions": conditions}


def controller_key(obj: Obj, kind: str) -> str | None:
    """The key of the object's controlling owner of that kind, if it has one."""
    meta = obj["metadata"]
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == kind:
            return object_key(meta.get("namespace"), ref["name"])
    return None


def owner_reference(api_version: str, kind: str, owner: Obj) -> dict[str, Any]:
    """A controlling ownerReference to `owner`."""
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def settled(obj: Obj) -> bool:
    """Whether the status says it observed the current generation (seeded ones say so)."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    return observed is not None and int(observed) >= int(obj["metadata"].get("generation") or 0)


def deleting(obj: Obj) -> bool:
    """Whether the object has a deletionTimestamp."""
    return bool(obj["metadata"].get("deletionTimestamp"))


def owned_pods(registry: Registry, owner: Obj) -> list[Obj]:
    """The pods the owner controls."""
    uid = owner["metadata"]["uid"]
    return [pod for pod in registry.dependents(uid, PODS)
            if any(ref.get("uid") == uid and ref.get("controller")
                   for ref in pod["metadata"].get("ownerReferences") or ())]


def phase(pod: Obj) -> str:
    """The pod's phase (Pending when it has none)."""
    return str((pod.get("status") or {}).get("phase") or "Pending")


def active(pod: Obj) -> bool:
    """Neither finished nor being deleted."""
    return phase(pod) not in TERMINAL and not deleting(pod)


class Writer:
    """The registry's verbs as controllers use them: by storage, on stored objects."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def get(self, storage: str, key: str) -> Obj | None:
        """The stored object, or None."""
        return self.registry.store.get(storage, key)

    def create(self, storage: str, body: Obj, namespace: str | None = None) -> Obj:
        """Create as a client would (status dropped where the kind has a subresource)."""
        return self.registry.create(BUILTIN[storage], body, namespace=namespace)

    def update(self, storage: str, obj: Obj) -> Obj:
        """Replace the object (its status kept)."""
        meta = obj["metadata"]
        return self.registry.replace(BUILTIN[storage], obj, namespace=meta.get("namespace"),
                                     name=meta["name"])

    def status(self, storage: str, obj: Obj, status: dict[str, Any]) -> Obj:
        """Write `status` unless it is what the object has already."""
        if obj.get("status") == status:
            return obj
        meta = obj["metadata"]
        return self.registry.replace(BUILTIN[storage], {**obj, "status": status},
                                     namespace=meta.get("namespace"), name=meta["name"],
                                     subresource="status")

    def delete(self, storage: str, obj: Obj, policy: str = "Background") -> None:
        """Delete with that propagation policy (gone already is fine)."""
        meta = obj["metadata"]
        if self.registry.store.get(storage, key_of(obj)) is None:
            return
        self.registry.delete(BUILTIN[storage], namespace=meta.get("namespace"),
                             name=meta["name"],
                             options=DeleteOptions(propagation_policy=policy))


def pod_from_template(
    owner: Obj, api_version: str, kind: str, *, labels: dict[str, str] | None = None,
    node: str | None = None,
) -> Obj:
    """A new pod of `owner` from its `spec.template`, controlled by it."""
    meta = owner["metadata"]
    template = (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    spec = dict(template.get("spec") or {})
    if node is not None:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "generateName": f"{meta['name']}-", "namespace": meta.get("namespace"),
        "labels": {**(tmeta.get("labels") or {}), **(labels or {})},
        "annotations": dict(tmeta.get("annotations") or {}),
        "ownerReferences": [owner_reference(api_version, kind, owner)]}, "spec": spec}
