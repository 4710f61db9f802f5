"""Real-shaped API objects for the cleanup tests, as raw JSON dicts or decoded records."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import msgspec

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.kube import records

NOW = 1_700_000_000.0
HOUR = 3600.0
_revisions = itertools.count(1)


def meta(name: str, namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "uid": str(uuid.uuid4()),
        "resourceVersion": str(next(_revisions)),
        "creationTimestamp": format_time(NOW - 30 * 24 * HOUR),
    }
    if namespace is not None:
        data["namespace"] = namespace
    data.update({key: value for key, value in extra.items() if value is not None})
    return data


def job_dict(
    name: str = "job",
    *,
    namespace: str = "default",
    finished: float | None = None,
    outcome: str = "Complete",
    ttl: int | None = None,
    owner: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    completion_only: bool = False,
    deleting: bool = False,
) -> dict[str, Any]:
    status: dict[str, Any] = {"active": 0 if finished is not None else 1}
    if finished is not None and not completion_only:
        status["conditions"] = [
            {"type": "SuccessCriteriaMet" if outcome == "Complete" else "FailureTarget",
             "status": "True", "lastTransitionTime": format_time(finished)},
            {"type": outcome, "status": "True", "lastTransitionTime": format_time(finished)},
        ]
    if finished is not None and outcome == "Complete":
        status["completionTime"] = format_time(finished)
    owners = [{"apiVersion": "batch/v1", "kind": owner, "name": "parent",
               "uid": str(uuid.uuid4()), "controller": True}] if owner else None
    metadata = meta(
        name, namespace, labels=labels, annotations=annotations, ownerReferences=owners,
        deletionTimestamp=format_time(NOW - 1) if deleting else None,
    )
    containers = [{"name": "c", "image": "busybox"}]
    spec: dict[str, Any] = {"template": {"spec": {"restartPolicy": "Never",
                                                  "containers": containers}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec,
            "status": status}


def pod_dict(
    name: str = "pod",
    *,
    namespace: str = "default",
    deleted: float | None = None,
    grace: int = 30,
    node: str | None = "node-1",
    owner: str | None = None,
    claims: tuple[str, ...] = (),
    finalizers: list[str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    owners = [{"apiVersion": "apps/v1", "kind": owner, "name": "parent",
               "uid": str(uuid.uuid4()), "controller": True}] if owner else None
    metadata = meta(
        name, namespace, ownerReferences=owners, finalizers=finalizers, annotations=annotations,
        deletionTimestamp=format_time(deleted) if deleted is not None else None,
        deletionGracePeriodSeconds=grace if deleted is not None else None,
    )
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if claims:
        spec["volumes"] = [
            {"name": claim, "persistentVolumeClaim": {"claimName": claim}} for claim in claims
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec,
            "status": {"phase": "Running"}}


def node_dict(
    name: str = "node-1",
    *,
    ready: bool = True,
    since: float = NOW - 30 * 24 * HOUR,
    taints: list[str] | None = None,
) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if ready else "Unknown",
                 "lastTransitionTime": format_time(since)}
    spec = {"taints": [{"key": key, "effect": "NoExecute"} for key in taints]} if taints else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta(name, None), "spec": spec,
            "status": {"conditions": [condition]}}


def event_dict(
    name: str = "event",
    *,
    namespace: str = "default",
    last: float | None = None,
    event_time: float | None = None,
    series: float | None = None,
    first: float | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": meta(name, namespace, annotations=annotations),
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace},
        "reason": "Started", "type": "Normal", "message": "Started container", "count": 1,
    }
    if last is not None:
        data["lastTimestamp"] = format_time(last)
    if first is not None:
        data["firstTimestamp"] = format_time(first)
    if event_time is not None:  # a new-style Event: the server requires who reported it
        data["eventTime"] = format_time(event_time, micro=True)
        data.update(reportingComponent="kubelet", reportingInstance="node-1", action="Started")
    if series is not None:
        data["series"] = {"count": 2, "lastObservedTime": format_time(series, micro=True)}
    return data


def deployment_dict(
    name: str = "web",
    *,
    namespace: str = "default",
    revision: int = 5,
    generation: int = 1,
    observed: int = 1,
) -> dict[str, Any]:
    metadata = meta(name, namespace, generation=generation,
                    annotations={"deployment.kubernetes.io/revision": str(revision)})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"replicas": 2, **_selecting({"app": name})},
            "status": {"observedGeneration": observed, "replicas": 2}}


def _selecting(labels: dict[str, str]) -> dict[str, Any]:
    """A selector and a pod template it selects, as workloads need."""
    return {"selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}


def replicaset_dict(
    deployment: dict[str, Any],
    revision: int | None,
    *,
    replicas: int = 0,
    current: int = 0,
    created: float = NOW - 2 * HOUR,
    owned: bool = True,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    dmeta = deployment["metadata"]
    notes = dict(annotations or {})
    if revision is not None:
        notes["deployment.kubernetes.io/revision"] = str(revision)
    owners = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dmeta["name"],
               "uid": dmeta["uid"], "controller": True}] if owned else None
    metadata = meta(f"{dmeta['name']}-{revision}", dmeta["namespace"], annotations=notes,
                    ownerReferences=owners, creationTimestamp=format_time(created))
    selects = {"app": dmeta["name"], "pod-template-hash": f"h{revision}"}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata,
            "spec": {"replicas": replicas, **_selecting(selects)}, "status": {"replicas": current}}


def record(data: dict[str, Any], kind: type[Any] | None = None) -> Any:
    """Decode a raw object into its slim record, as the informers do."""
    kind = kind or getattr(records, data["kind"])
    return msgspec.json.decode(msgspec.json.encode(data), type=kind)
