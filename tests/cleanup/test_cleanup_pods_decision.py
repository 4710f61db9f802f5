"""Which pods stuck Terminating the stuckPods policy force-deletes, in each mode, and why not."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_lifecycle.cleanup import pods
from gitops_lifecycle.cleanup.decision import Delete, Skip, Wait
from gitops_lifecycle.cleanup.pods import NeedsNode, NodeFacts
from gitops_lifecycle.settings import CleanupSettings
from tests.cleanup.builders import HOUR, NOW, node_dict, pod_dict, record

DEFAULTS = CleanupSettings()
STUCK = NOW - 600 - 30  # deletionTimestamp (the end of the grace period) 10.5 minutes ago
SINCE = STUCK + 300  # stuck from then: the 5m threshold past deletionTimestamp


def stuck_pods(**policy: Any) -> CleanupSettings:
    return CleanupSettings.model_validate({"controller": {"policies": {"stuckPods": policy}}})


def mode(name: str) -> CleanupSettings:
    return stuck_pods(mode=name)


def facts(node: dict[str, Any] | None, *, rwo: bool = False) -> NodeFacts:
    return NodeFacts(record(node) if node is not None else None, uses_rwo_volume=rwo)


NOT_READY = node_dict(ready=False, since=NOW - HOUR)
NOT_READY_RECENTLY = node_dict(ready=False, since=NOW - 120)

CASES = [
    # (id, pod, settings, facts, expected)
    ("not terminating", pod_dict(), DEFAULTS, None, Skip("stuckPods", "not_terminating")),
    ("terminating within the threshold", pod_dict(deleted=NOW - 60), DEFAULTS, None,
     Wait("stuckPods", NOW - 60 + 300)),
    ("stuck, safe mode, node not read yet", pod_dict(deleted=STUCK), DEFAULTS, None,
     NeedsNode("stuckPods", "node-1", ())),
    ("stuck, node gone", pod_dict(deleted=STUCK), DEFAULTS, facts(None),
     Delete("stuckPods", SINCE, "node_gone")),
    ("stuck, node out of service",
     pod_dict(deleted=STUCK, owner="StatefulSet"), DEFAULTS,
     facts(node_dict(ready=False, since=NOW - 60, taints=["node.kubernetes.io/out-of-service"])),
     Delete("stuckPods", SINCE, "node_out_of_service")),
    ("stuck, never scheduled", pod_dict(deleted=STUCK, node=None), DEFAULTS, None,
     Delete("stuckPods", SINCE, "never_scheduled")),
    ("stuck, node Ready", pod_dict(deleted=STUCK), DEFAULTS, facts(node_dict()),
     Skip("stuckPods", "node_ready")),
    ("stuck, node NotReady long enough", pod_dict(deleted=STUCK), DEFAULTS, facts(NOT_READY),
     Delete("stuckPods", SINCE, "node_not_ready")),
    ("stuck, node NotReady only briefly", pod_dict(deleted=STUCK), DEFAULTS,
     facts(NOT_READY_RECENTLY), Wait("stuckPods", NOW - 120 + 600, "node_not_ready_grace")),
    ("StatefulSet pod on a NotReady node", pod_dict(deleted=STUCK, owner="StatefulSet"),
     DEFAULTS, facts(NOT_READY), Skip("stuckPods", "statefulset_pod")),
    ("ReplicaSet pod on a NotReady node", pod_dict(deleted=STUCK, owner="ReplicaSet"),
     DEFAULTS, facts(NOT_READY), Delete("stuckPods", SINCE, "node_not_ready")),
    ("ReadWriteOnce volume on a NotReady node", pod_dict(deleted=STUCK, claims=("data",)),
     DEFAULTS, facts(NOT_READY, rwo=True), Skip("stuckPods", "rwo_volume")),
    ("claims listed for the live read", pod_dict(deleted=STUCK, claims=("a", "b")), DEFAULTS,
     None, NeedsNode("stuckPods", "node-1", ("a", "b"))),
    ("held by finalizers", pod_dict(deleted=STUCK, finalizers=["example.com/hold"]), DEFAULTS,
     facts(None), Skip("stuckPods", "finalizers")),
    ("held by finalizers, mode always", pod_dict(deleted=STUCK, finalizers=["x/y"]),
     mode("always"), None, Skip("stuckPods", "finalizers")),
    ("mode always forces without a node read", pod_dict(deleted=STUCK, owner="StatefulSet"),
     mode("always"), None, Delete("stuckPods", SINCE, "mode_always")),
    ("mode report never forces", pod_dict(deleted=STUCK), mode("report"), facts(None),
     Skip("stuckPods", "report_only")),
    ("opted out", pod_dict(deleted=STUCK, annotations={"gitops.io/cleanup": "false"}),
     DEFAULTS, facts(None), Skip("stuckPods", "opted_out")),
    ("threshold annotation",
     pod_dict(deleted=NOW - 60, annotations={"gitops.io/cleanup-ttl": "1h"}),
     DEFAULTS, None, Wait("stuckPods", NOW - 60 + HOUR)),
    ("unreadable threshold annotation",
     pod_dict(deleted=STUCK, annotations={"gitops.io/cleanup-ttl": "-"}), DEFAULTS, facts(None),
     Skip("stuckPods", "invalid_annotation")),
    ("excluded namespace", pod_dict(deleted=STUCK, namespace="kube-system"),
     CleanupSettings.model_validate({"namespaces": {"exclude": ["kube-system"]}}), facts(None),
     Skip("stuckPods", "excluded_namespace")),
    ("policy disabled", pod_dict(deleted=STUCK),
     stuck_pods(enabled=False),
     facts(None), Skip("stuckPods", "policy_disabled")),
]


@pytest.mark.parametrize(("pod", "config", "node", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_stuck_pod_decision(
    pod: dict[str, Any], config: CleanupSettings, node: NodeFacts | None, expected: object
) -> None:
    assert pods.decide(record(pod), NOW, config, node) == expected


def test_the_gauge_counts_only_pods_past_the_threshold() -> None:
    config = DEFAULTS.controller.policies.stuck_pods
    assert pods.is_stuck(record(pod_dict(deleted=STUCK)), NOW, config)
    assert not pods.is_stuck(record(pod_dict(deleted=NOW - 60)), NOW, config)
    assert not pods.is_stuck(record(pod_dict()), NOW, config)


def test_every_reason_is_declared_for_the_metric_labels() -> None:
    reasons = {c[4].reason for c in CASES if isinstance(c[4], Skip)} - {"not_terminating"}
    assert reasons <= set(pods.REASONS)


def test_stuck_is_counted_from_the_deletion_timestamp_which_already_holds_the_grace() -> None:
    config = DEFAULTS.controller.policies.stuck_pods
    pod = record(pod_dict(deleted=NOW - 300, grace=30))
    assert pods.stuck_since(pod, config) == NOW - 300 + 300  # not + 30 a second time
    assert pods.is_stuck(pod, NOW, config)


@pytest.mark.parametrize("conditions", [
    [],
    [{"type": "Ready", "status": "False"}],
    [{"type": "Ready", "status": "Unknown"}],
    [{"type": "MemoryPressure", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}],
])
def test_a_node_not_ready_since_an_unknown_time_is_not_ready_long_enough(
    conditions: list[dict[str, Any]],
) -> None:
    node = node_dict(ready=False, since=NOW - HOUR)
    node["status"]["conditions"] = conditions
    decision = pods.decide(record(pod_dict(deleted=STUCK)), NOW, DEFAULTS, facts(node))
    assert not isinstance(decision, Delete), decision
