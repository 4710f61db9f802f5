"""The Deployment controller: one ReplicaSet per pod template, rolled out and numbered.

A template no ReplicaSet has yet gets a new one, `<name>-<pod-template-hash>`, carrying the
next `deployment.kubernetes.io/revision` (going back to an older template renumbers its set).
RollingUpdate scales the new set up and the old ones to zero once the new set's pods are
available; Recreate scales the old ones down first. Old sets scaled to zero beyond
`revisionHistoryLimit` (default 10) are deleted, the lowest revisions first. Deployments
seeded with a status that observed their generation stay as written until their spec changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec

from gitops_lifecycle.simulation.kubeapi.controllers.events import record
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    DEPLOYMENTS,
    REPLICASETS,
    Writer,
    controller_key,
    deleting,
    key_of,
    owner_reference,
    settled,
    with_condition,
)
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
HISTORY_LIMIT = 10
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the one generated names use


def template_hash(template: dict[str, Any]) -> str:
    """A short, stable name for a pod template, in the alphabet generated names use."""
    digest = hashlib.sha256(msgspec.json.encode(_normal(template), order="sorted")).digest()
    return "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:10])


def revision(obj: Obj) -> int:
    """The revision annotation of a ReplicaSet or Deployment (0 without one)."""
    text = (obj["metadata"].get("annotations") or {}).get(REVISION, "0")
    return int(text) if str(text).isdigit() else 0


def _normal(value: Any) -> Any:
    """JSON without nulls and empty maps or lists: how the API's Go types read it back."""
    if isinstance(value, dict):
        kept = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def same_template(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether two pod templates are equal but for the pod-template-hash label."""
    def without_hash(template: dict[str, Any]) -> Any:
        meta = dict(template.get("metadata") or {})
        meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH}
        return _normal({**template, "metadata": meta})
    return bool(without_hash(ours) == without_hash(theirs))


class Deployments:
    """Rolls Deployments out through ReplicaSets."""

    name: str = "deployment-controller"
    follows: tuple[str, ...] = (DEPLOYMENTS, REPLICASETS)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store
        self._managed: set[str] = set()

    def keys(self, change: Change) -> Iterable[str]:
        """The Deployment that changed, or the one owning the ReplicaSet that did."""
        if change.store == DEPLOYMENTS:
            return [] if change.type == "DELETED" else [change.key]
        owner = controller_key(change.obj, "Deployment")
        return [] if owner is None else [owner]

    def all_keys(self) -> Iterable[str]:
        """Every Deployment."""
        return list(self._store.objects(DEPLOYMENTS))

    def reconcile(self, key: str, now: float) -> float | None:
        """Roll out the current template, trim the history, update the status."""
        deployment = self._store.get(DEPLOYMENTS, key)
        if deployment is None or deleting(deployment):
            return None
        uid = deployment["metadata"]["uid"]
        if uid not in self._managed and settled(deployment):
            return None
        self._managed.add(uid)
        sets = [rs for rs in self._writer.registry.dependents(uid, REPLICASETS)
                if controller_key(rs, "Deployment") == key and not deleting(rs)]
        spec = deployment.get("spec") or {}
        if not spec.get("paused"):
            current = self._current(deployment, sets)
            sets = [rs for rs in sets if rs["metadata"]["uid"] != current["metadata"]["uid"]]
            self._roll(deployment, current, sets)
            self._trim(sets, int(spec.get("revisionHistoryLimit", HISTORY_LIMIT)))
            deployment = self._annotate(deployment, revision(current))
            sets.append(current)
        self._status(deployment, sets, now)
        return None

    def _current(self, deployment: Obj, sets: list[Obj]) -> Obj:
        """The ReplicaSet of the current template, made or renumbered as needed."""
        template = (deployment.get("spec") or {}).get("template") or {}
        top = max((revision(rs) for rs in sets), default=0)
        for rs in sets:
            if same_template((rs.get("spec") or {}).get("template") or {}, template):
                if revision(rs) == top:
                    return rs
                annotations = {**(rs["metadata"].get("annotations") or {}),
                               REVISION: str(top + 1)}
                return self._writer.update(REPLICASETS, {
                    **rs, "metadata": {**rs["metadata"], "annotations": annotations}})
        return self._writer.create(REPLICASETS, self._replica_set(deployment, top + 1),
                                   deployment["metadata"].get("namespace"))

    def _replica_set(self, deployment: Obj, number: int) -> Obj:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        template = spec.get("template") or {}
        hashed = template_hash(template)
        tmeta = dict(template.get("metadata") or {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH: hashed}
        selector = dict(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH: hashed}
        replicas = int(spec.get("replicas", 1))
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": f"{meta['name']}-{hashed}", "namespace": meta.get("namespace"),
            "labels": dict(tmeta["labels"]),
            "annotations": {REVISION: str(number),
                            "deployment.kubernetes.io/desired-replicas": str(replicas),
                            "deployment.kubernetes.io/max-replicas": str(replicas)},
            "ownerReferences": [owner_reference("apps/v1", "Deployment", deployment)]},
            "spec": {"replicas": 0, "selector": selector,
                     "template": {**template, "metadata": tmeta}}}

    def _scale(self, deployment: Obj, rs: Obj, replicas: int) -> None:
        before = int((rs.get("spec") or {}).get("replicas", 1))
        if before != replicas:
            fresh = self._store.get(REPLICASETS, key_of(rs)) or rs
            self._writer.update(REPLICASETS, {**fresh, "spec": {**fresh["spec"],
                                                                "replicas": replicas}})
            way = "up" if replicas > before else "down"
            record(self._writer, deployment, ("apps/v1", "Deployment"), "ScalingReplicaSet",
                   f"Scaled {way} replica set {rs['metadata']['name']} from {before} to "
                   f"{replicas}", component=self.name)

    def _roll(self, deployment: Obj, current: Obj, old: list[Obj]) -> None:
        spec = deployment.get("spec") or {}
        want = int(spec.get("replicas", 1))
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        if recreate:
            for rs in old:
                self._scale(deployment, rs, 0)
            if any((rs.get("status") or {}).get("replicas") for rs in old):
                return
            self._scale(deployment, current, want)
            return
        self._scale(deployment, current, want)
        available = int(((self._store.get(REPLICASETS, key_of(current)) or current)
                         .get("status") or {}).get("availableReplicas") or 0)
        if available >= want:
            for rs in old:
                self._scale(deployment, rs, 0)

    def _trim(self, old: list[Obj], limit: int) -> None:
        idle = sorted((rs for rs in old if not (rs.get("spec") or {}).get("replicas")
                       and not (rs.get("status") or {}).get("replicas")), key=revision)
        for rs in idle[: max(len(idle) - limit, 0)]:
            self._writer.delete(REPLICASETS, rs)

    def _annotate(self, deployment: Obj, number: int) -> Obj:
        annotations = dict(deployment["metadata"].get("annotations") or {})
        if annotations.get(REVISION) == str(number):
            return deployment
        annotations[REVISION] = str(number)
        return self._writer.update(DEPLOYMENTS, {
            **deployment, "metadata": {**deployment["metadata"], "annotations": annotations}})

    def _status(self, deployment: Obj, sets: list[Obj], now: float) -> None:
        fresh = [self._store.get(REPLICASETS, key_of(rs)) or rs for rs in sets]
        counts = [(rs.get("status") or {}) for rs in fresh]
        want = int((deployment.get("spec") or {}).get("replicas", 1))
        current = max(fresh, key=revision, default=None)
        updated = int(((current or {}).get("status") or {}).get("replicas") or 0)
        available = sum(int(c.get("availableReplicas") or 0) for c in counts)
        status: dict[str, Any] = {
            **(deployment.get("status") or {}),
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": sum(int(c.get("replicas") or 0) for c in counts),
            "updatedReplicas": updated,
            "readyReplicas": sum(int(c.get("readyReplicas") or 0) for c in counts),
            "availableReplicas": available,
            "unavailableReplicas": max(want - available, 0)}
        ok = available >= want
        status = with_condition(status, "Available", "True" if ok else "False", now=now,
                                reason="MinimumReplicasAvailable" if ok else
                                "MinimumReplicasUnavailable",
                                message="Deployment has minimum availability." if ok else
                                "Deployment does not have minimum availability.")
        done = ok and updated == want and status["replicas"] == want
        name = (current or {}).get("metadata", {}).get("name", "")
        status = with_condition(status, "Progressing", "True", now=now,
                                reason="NewReplicaSetAvailable" if done else
                                "ReplicaSetUpdated",
                                message=f'ReplicaSet "{name}" has successfully progressed.'
                                if done else f'ReplicaSet "{name}" is progressing.')
        self._writer.status(DEPLOYMENTS, deployment, status)

