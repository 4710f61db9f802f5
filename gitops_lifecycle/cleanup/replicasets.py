"""Surplus ReplicaSets: which are eligible for deletion, and when.

Only a ReplicaSet a Deployment controls, scaled to zero (desired and current), that is not
the Deployment's current revision, whose Deployment has observed its latest spec (not in
the middle of a rollout), outside the newest `minKeep` old revisions, and at least `minAge`
old. Anything the decision cannot confirm (no Deployment in the cache, no revision) stays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from gitops_lifecycle import logs
from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.cleanup.controller import CacheController
from gitops_lifecycle.cleanup.decision import (
    BEING_DELETED,
    COMMON_REASONS,
    INVALID_ANNOTATION,
    POLICY_DISABLED,
    Decision,
    Delete,
    Skip,
    expiry,
    out_of_scope,
    seconds,
    timed,
)
from gitops_lifecycle.cleanup.deleter import Target
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import GoneError, NotFoundError
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Deployment, Object, OwnerReference, ReplicaSet
from gitops_lifecycle.kube.resources import DEPLOYMENTS, REPLICASETS
from gitops_lifecycle.settings import CleanupSettings

log = logs.get("cleanup.replicasets")

POLICY = "replicaSets"
NOT_DEPLOYMENT_OWNED = "not_deployment_owned"
DEPLOYMENT_NOT_FOUND = "deployment_not_found"
HAS_REPLICAS = "has_replicas"
ROLLOUT_IN_PROGRESS = "rollout_in_progress"
NO_REVISION = "no_revision"
CURRENT_REVISION = "current_revision"
WITHIN_MIN_KEEP = "within_min_keep"
REASONS = (
    *COMMON_REASONS, NOT_DEPLOYMENT_OWNED, DEPLOYMENT_NOT_FOUND, HAS_REPLICAS,
    ROLLOUT_IN_PROGRESS, NO_REVISION, CURRENT_REVISION, WITHIN_MIN_KEEP,
)


def decide(
    replica_set: ReplicaSet,
    now: float,
    settings: CleanupSettings,
    *,
    deployment: Deployment | None,
    siblings: Iterable[ReplicaSet],
) -> Decision:
    """Whether `replica_set` may be deleted at `now`, given its Deployment and its siblings.

    `siblings` are the ReplicaSets the same Deployment controls (with or without this one).
    """
    config = settings.controller.policies.replica_sets
    reason = out_of_scope(replica_set.metadata, settings) or _not_surplus(
        replica_set, deployment=deployment, siblings=siblings, min_keep=config.min_keep
    )
    if reason:
        return Skip(POLICY, reason)
    if not config.enabled:
        return Skip(POLICY, POLICY_DISABLED)
    created = seconds(replica_set.metadata.creation_timestamp) or 0.0
    try:
        expires = expiry(replica_set.metadata, start=created, default=config.min_age)
    except marks.InvalidAnnotationError:
        return Skip(POLICY, INVALID_ANNOTATION)
    return timed(POLICY, expires=expires, now=now)


def _not_surplus(
    replica_set: ReplicaSet,
    *,
    deployment: Deployment | None,
    siblings: Iterable[ReplicaSet],
    min_keep: int,
) -> str | None:
    meta = replica_set.metadata
    if meta.deletion_timestamp:
        return BEING_DELETED
    owner = controller_of(replica_set)
    if owner is None or owner.kind != "Deployment":
        return NOT_DEPLOYMENT_OWNED
    if deployment is None or deployment.metadata.uid != owner.uid:
        return DEPLOYMENT_NOT_FOUND
    if replica_set.spec.replicas != 0 or (replica_set.status.replicas or 0) != 0:
        return HAS_REPLICAS
    if deployment.status.observed_generation != deployment.metadata.generation:
        return ROLLOUT_IN_PROGRESS
    return _revision_reason(replica_set, deployment=deployment, siblings=siblings, keep=min_keep)


def _revision_reason(
    replica_set: ReplicaSet, *, deployment: Deployment, siblings: Iterable[ReplicaSet], keep: int
) -> str | None:
    mine = revision(replica_set)
    if mine is None:
        return NO_REVISION
    others = [
        number for sibling in siblings
        if sibling.metadata.uid != replica_set.metadata.uid
        and (number := revision(sibling)) is not None
    ]
    current = max([mine, *others, revision(deployment) or 0])
    if mine >= current:
        return CURRENT_REVISION
    newer_old = [number for number in others if mine < number < current]
    if len(newer_old) < keep:
        return WITHIN_MIN_KEEP
    return None


def revision(obj: ReplicaSet | Deployment) -> int | None:
    """The `deployment.kubernetes.io/revision` number, or None if absent or unreadable."""
    value = (obj.metadata.annotations or {}).get(marks.DEPLOYMENT_REVISION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def controller_of(obj: Object) -> OwnerReference | None:
    """The ownerReference marked as the controller, if any."""
    return obj.metadata.controller_ref()


class ReplicaSetsController(CacheController):
    """Deletes a Deployment's surplus old ReplicaSets; watches Deployments for context.

    A ReplicaSet is surplus only in view of its siblings and its Deployment, which the
    uid precondition of its own deletion cannot vouch for. So decisions wait while either
    cache is not live, and a deletion is re-decided first on a live read of the Deployment
    and every ReplicaSet of its namespace.
    """

    name = "cleanup-replicasets"
    resource = REPLICASETS
    policies = (POLICY,)

    def __init__(self, *, kube: Kube, deployments: Informer[Deployment], **kwargs: Any) -> None:
        self._kube = kube
        self._owned: dict[str, set[str]] = defaultdict(set)
        """Deployment uid → keys of the ReplicaSets it controls (the siblings index)."""
        super().__init__(**kwargs)
        self.informer.subscribe(self._index)
        self.deployments = deployments
        deployments.subscribe(self._on_deployment)

    async def synced(self) -> None:
        """Both caches: a decision needs the Deployment as well as its ReplicaSets."""
        await self.informer.has_synced.wait()
        await self.deployments.has_synced.wait()

    def reads(self) -> list[Informer[Any]]:
        """ReplicaSets and Deployments: a decision reads both."""
        return [self.informer, self.deployments]

    async def confirm(self, target: Target) -> Target | None:
        """Re-decide on a live read of the Deployment and the namespace's ReplicaSets."""
        cached = self.informer.get(target.meta.key)
        owner = controller_of(cached) if cached is not None else None
        if owner is None:
            return None
        namespace = target.meta.namespace
        siblings = [rs for rs in await self._live(namespace)
                    if (ref := controller_of(rs)) is not None and ref.uid == owner.uid]
        live = next((rs for rs in siblings if rs.metadata.uid == target.meta.uid), None)
        try:
            deployment = await self._kube.get(DEPLOYMENTS, owner.name, record=Deployment,
                                              namespace=namespace)
        except NotFoundError:
            deployment = None
        if live is None:
            return None
        decision = decide(live, self.clock.now(), self.settings,
                          deployment=deployment, siblings=siblings)
        if not isinstance(decision, Delete):
            log.info("not deleted: a live read keeps it", key=target.meta.key,
                     decision=str(decision))
            return None
        return Target(self.resource, live.metadata, decision)

    async def _live(self, namespace: str) -> list[ReplicaSet]:
        """Every ReplicaSet of `namespace`, listed now (afresh if a continue token expires)."""
        found: list[ReplicaSet] = []
        token: str | None = None
        while True:
            try:
                page = await self._kube.list_page(REPLICASETS, record=ReplicaSet,
                                                  namespace=namespace, continue_token=token)
            except GoneError:
                if token is None:
                    raise
                token = None
                found.clear()
                continue
            found.extend(page.items)
            token = page.metadata.continue_ or None
            if token is None:
                return found

    async def judge(self, obj: Object) -> Decision:
        """Decide from the cached ReplicaSet, its Deployment and its siblings."""
        assert isinstance(obj, ReplicaSet)
        owner = controller_of(obj)
        deployment = None
        siblings: list[ReplicaSet] = []
        if owner is not None and owner.kind == "Deployment":
            deployment = self.deployments.get(f"{obj.metadata.namespace}/{owner.name}")
            siblings = self._siblings(owner.uid)
        return decide(obj, self.clock.now(), self.settings,
                      deployment=deployment, siblings=siblings)

    def related(self, obj: Object) -> Iterable[str]:
        """A new or changed revision can change which of its siblings are surplus."""
        owner = controller_of(obj)
        return list(self._owned.get(owner.uid, ())) if owner is not None else ()

    def _siblings(self, owner_uid: str) -> list[ReplicaSet]:
        found = (self.informer.get(key) for key in self._owned.get(owner_uid, ()))
        return [rs for rs in found if isinstance(rs, ReplicaSet)]

    def _index(self, kind: str, old: Object | None, new: Object | None) -> None:
        for obj, present in ((old, False), (new, True)):
            owner = controller_of(obj) if obj is not None else None
            if obj is None or owner is None:
                continue
            keys = self._owned[owner.uid]
            if present and kind != "DELETED":
                keys.add(obj.key)
            else:
                keys.discard(obj.key)
                if not keys:
                    del self._owned[owner.uid]

    def _on_deployment(
        self, _kind: str, old: Deployment | None, new: Deployment | None
    ) -> None:
        deployment = new or old
        if deployment is None or not self._primed:
            return
        for key in self._owned.get(deployment.metadata.uid, ()):
            self.queue.add(key)
