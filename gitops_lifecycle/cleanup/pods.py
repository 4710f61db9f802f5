"""Pods stuck Terminating: which may be force-deleted, and when.

A pod is stuck when its `deletionTimestamp` lies more than `threshold` in the past (the API
server already puts the end of the grace period into `deletionTimestamp`).
Mode `report` only counts them; `always` force-deletes every stuck pod;
`safe` (the default) force-deletes only where no kubelet can still be running the pod's
containers: the node is gone (confirmed by a live read), carries the out-of-service taint,
the pod was never scheduled, or the node has been NotReady for `notReadyGrace` and the pod
neither belongs to a StatefulSet nor uses a ReadWriteOnce volume (either could then run twice
at once). Pods held only by finalizers are reported, never forced: force does not lift them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gitops_lifecycle import metrics
from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.cleanup.controller import CacheController
from gitops_lifecycle.cleanup.decision import (
    COMMON_REASONS,
    INVALID_ANNOTATION,
    POLICY_DISABLED,
    Decision,
    Delete,
    Skip,
    Wait,
    expiry,
    out_of_scope,
    seconds,
)
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import NotFoundError
from gitops_lifecycle.kube.records import Node, Object, PersistentVolumeClaim, Pod
from gitops_lifecycle.kube.resources import NODES, PODS, PVCS
from gitops_lifecycle.settings import CleanupSettings, StuckPodsPolicy

POLICY = "stuckPods"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"

NOT_TERMINATING = "not_terminating"
FINALIZERS = "finalizers"
REPORT_ONLY = "report_only"
NODE_READY = "node_ready"
STATEFULSET_POD = "statefulset_pod"
RWO_VOLUME = "rwo_volume"
UNKNOWN_VOLUME = "unknown_volume"
READINESS_UNKNOWN = "node_readiness_unknown"
NODE_NOT_READY_GRACE = "node_not_ready_grace"
REASONS = (
    *COMMON_REASONS, FINALIZERS, REPORT_ONLY, NODE_READY, STATEFULSET_POD, RWO_VOLUME,
    UNKNOWN_VOLUME, READINESS_UNKNOWN,
)

# Why a forced deletion was allowed (the `why` of a Delete; logged and put in the Event).
FORCED_ALWAYS = "mode_always"
UNSCHEDULED = "never_scheduled"
NODE_GONE = "node_gone"
OUT_OF_SERVICE = "node_out_of_service"
NODE_NOT_READY = "node_not_ready"


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What a live read found about a stuck pod's node and volumes."""

    node: Node | None
    """None: the node does not exist (a 404 from the API server, not a cache miss)."""
    uses_rwo_volume: bool = False
    """The pod mounts a PersistentVolumeClaim with ReadWriteOnce(Pod) access, or one whose
    access modes could not be confirmed."""


@dataclass(frozen=True, slots=True)
class NeedsNode:
    """The pod is stuck; deciding needs a live read of its node (and claims): see NodeFacts."""

    policy: str
    node_name: str
    claims: tuple[str, ...]


def decide(
    pod: Pod, now: float, settings: CleanupSettings, facts: NodeFacts | None = None
) -> Decision | NeedsNode:
    """Whether `pod` may be force-deleted at `now`, and if not, why or from when."""
    config = settings.controller.policies.stuck_pods
    if not pod.metadata.deletion_timestamp:
        return Skip(POLICY, NOT_TERMINATING)
    reason = out_of_scope(pod.metadata, settings)
    if reason:
        return Skip(POLICY, reason)
    if not config.enabled:
        return Skip(POLICY, POLICY_DISABLED)
    try:
        since = stuck_since(pod, config)
    except marks.InvalidAnnotationError:
        return Skip(POLICY, INVALID_ANNOTATION)
    if now < since:
        return Wait(POLICY, since)
    return _stuck(pod, since, now=now, config=config, facts=facts)


def stuck_since(pod: Pod, config: StuckPodsPolicy) -> float:
    """From when a terminating pod counts as stuck (its annotation may move the threshold)."""
    meta = pod.metadata
    return expiry(meta, start=_grace_end(pod), default=config.threshold)


def is_stuck(pod: Pod, now: float, config: StuckPodsPolicy) -> bool:
    """Whether `pod` is terminating and past the threshold (what the stuck-pods gauge counts)."""
    if not pod.metadata.deletion_timestamp:
        return False
    try:
        return now >= stuck_since(pod, config)
    except marks.InvalidAnnotationError:
        return now >= _grace_end(pod) + config.threshold


def _grace_end(pod: Pod) -> float:
    """When the pod's grace period ended: the API server puts that into deletionTimestamp."""
    return seconds(pod.metadata.deletion_timestamp) or 0.0


def _stuck(
    pod: Pod, since: float, *, now: float, config: StuckPodsPolicy, facts: NodeFacts | None
) -> Decision | NeedsNode:
    if pod.metadata.finalizers:
        return Skip(POLICY, FINALIZERS)
    if config.mode == "report":
        return Skip(POLICY, REPORT_ONLY)
    if config.mode == "always":
        return Delete(POLICY, since, FORCED_ALWAYS)
    if not pod.spec.node_name:
        return Delete(POLICY, since, UNSCHEDULED)
    if facts is None:
        return NeedsNode(POLICY, pod.spec.node_name, claims(pod))
    return _safe(pod, since, now=now, config=config, facts=facts)


def _safe(
    pod: Pod, since: float, *, now: float, config: StuckPodsPolicy, facts: NodeFacts
) -> Decision:
    node = facts.node
    if node is None:
        return Delete(POLICY, since, NODE_GONE)
    if any(taint.key == OUT_OF_SERVICE_TAINT for taint in node.spec.taints or ()):
        return Delete(POLICY, since, OUT_OF_SERVICE)
    return _not_ready(pod, since, now=now, facts=facts, config=config)


def _not_ready(
    pod: Pod, since: float, *, now: float, facts: NodeFacts, config: StuckPodsPolicy
) -> Decision:
    assert facts.node is not None
    not_ready_since = _not_ready_since(facts.node)
    reason = _unsafe(pod, not_ready_since, facts)
    if reason is not None:
        return Skip(POLICY, reason)
    assert not_ready_since is not None
    allowed = max(since, not_ready_since + config.not_ready_grace)
    if now < allowed:
        return Wait(POLICY, allowed, NODE_NOT_READY_GRACE)
    return Delete(POLICY, allowed, NODE_NOT_READY)


def _unsafe(pod: Pod, not_ready_since: float | None, facts: NodeFacts) -> str | None:
    """Why forcing the pod off its NotReady node could let it run twice, if it could."""
    if not_ready_since is None:
        return NODE_READY
    if not_ready_since == math.inf:
        return READINESS_UNKNOWN
    if _statefulset_owned(pod):
        return STATEFULSET_POD
    if unknown_volumes(pod):
        return UNKNOWN_VOLUME
    if facts.uses_rwo_volume:
        return RWO_VOLUME
    return None


def _not_ready_since(node: Node) -> float | None:
    """When the node's Ready condition left True, None while it is Ready, and +inf when
    that is unknown (no Ready condition, or none with a transition time): unknown is never
    "long enough"."""
    for condition in node.status.conditions or ():
        if condition.type == "Ready":
            if condition.status == "True":
                return None
            return seconds(condition.last_transition_time) or math.inf
    return math.inf


def _statefulset_owned(pod: Pod) -> bool:
    return any(ref.kind == "StatefulSet" for ref in pod.metadata.owner_references or ())


def claims(pod: Pod) -> tuple[str, ...]:
    """Names of the PersistentVolumeClaims the pod mounts, generic ephemeral ones included
    (the claim of ephemeral volume `v` of pod `p` is `p-v`)."""
    names = []
    for volume in pod.spec.volumes or ():
        if volume.persistent_volume_claim is not None:
            names.append(volume.persistent_volume_claim.claim_name)
        elif volume.ephemeral is not None:
            names.append(f"{pod.metadata.name}-{volume.name}")
    return tuple(names)


def unknown_volumes(pod: Pod) -> list[str]:
    """Volumes that are neither node-local nor claims: their safety cannot be judged (a CSI
    or cloud disk may be attached ReadWriteOnce), so they count as unsafe."""
    return [volume.name for volume in pod.spec.volumes or ()
            if volume.persistent_volume_claim is None and volume.ephemeral is None]


RWO_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})


class StuckPodsController(CacheController):
    """Force-deletes pods stuck Terminating where that is safe; counts every stuck pod."""

    name = "cleanup-stuck-pods"
    resource = PODS
    policies = (POLICY,)
    quiet = frozenset({NOT_TERMINATING})

    def __init__(self, *, kube: Kube, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kube = kube
        self._stuck: set[str] = set()

    async def judge(self, obj: Object) -> Decision:
        """Decide from the cached pod, reading its node (and claims) live when that matters."""
        assert isinstance(obj, Pod)
        decision = decide(obj, self.clock.now(), self.settings)
        if isinstance(decision, NeedsNode):
            facts = await self._facts(obj, decision)
            decision = decide(obj, self.clock.now(), self.settings, facts)
        assert not isinstance(decision, NeedsNode)
        return decision

    def wants(self, new: Object | None) -> bool:
        """Only terminating pods matter; every other pod change is ignored cheaply."""
        return new is not None and bool(new.metadata.deletion_timestamp)

    def observed(self, obj: Object) -> None:
        """Keep the stuck-pods gauge in step with what was last seen."""
        assert isinstance(obj, Pod)
        config = self.settings.controller.policies.stuck_pods
        current = self.informer.get(obj.key) is obj  # not gone while it was being judged
        if current and is_stuck(obj, self.clock.now(), config):
            self._stuck.add(obj.key)
        else:
            self._stuck.discard(obj.key)
        metrics.STUCK_PODS.set(len(self._stuck))

    def forget(self, key: str) -> None:
        """The pod is gone: it is no longer stuck."""
        super().forget(key)
        self._stuck.discard(key)
        metrics.STUCK_PODS.set(len(self._stuck))

    async def _facts(self, pod: Pod, need: NeedsNode) -> NodeFacts:
        try:
            node = await self._kube.get(NODES, need.node_name, record=Node)
        except NotFoundError:
            return NodeFacts(None)
        if _not_ready_since(node) is None or not need.claims:
            return NodeFacts(node)
        return NodeFacts(node, uses_rwo_volume=await self._uses_rwo(pod, need.claims))

    async def _uses_rwo(self, pod: Pod, claims: tuple[str, ...]) -> bool:
        """Whether any claim is ReadWriteOnce; a claim that cannot be read counts as one."""
        for claim in claims:
            try:
                pvc = await self._kube.get(
                    PVCS, claim, record=PersistentVolumeClaim, namespace=pod.metadata.namespace
                )
            except NotFoundError:
                return True
            if RWO_MODES.intersection(pvc.spec.access_modes):
                return True
        return False
