"""The `scale` subresource: an `autoscaling/v1` `Scale` view of a workload's replicas.

As k8s.io/kubernetes `pkg/registry/apps/deployment/storage` (`ScaleREST`) and its siblings for
ReplicaSets, StatefulSets and ReplicationControllers serve it: GET answers the Scale
(`spec.replicas`, `status.replicas`, `status.selector` as a selector string); PUT and PATCH
change the workload's `spec.replicas` only, and a Scale's `metadata.resourceVersion`, if
given, is a precondition on the workload.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

SCALABLE = frozenset({("apps", "deployments"), ("apps", "replicasets"),
                      ("apps", "statefulsets"), ("", "replicationcontrollers")})


def scalable(rt: ResourceType) -> bool:
    """Whether `rt` has a scale subresource."""
    return (rt.group, rt.plural) in SCALABLE


def _selector(selector: Any) -> str:
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))  # an RC's map
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or ():
        operator, key = expression.get("operator"), expression.get("key")
        values = ",".join(expression.get("values") or ())
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def view(obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale of a workload."""
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                       "creationTimestamp") if k in meta}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
            "spec": {"replicas": int(spec.get("replicas", 1))},
            "status": {"replicas": int(status.get("replicas") or 0),
                       "selector": _selector(spec.get("selector"))}}


def replicas(scale: Any) -> int | None:
    """The replicas a Scale asks for, if it names a whole number."""
    value = ((scale or {}).get("spec") or {}).get("replicas") if isinstance(scale, dict) \
        else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
