"""The scale subresource of a custom resource (`subresources.scale` of its CRD version) and
of the built-in workloads.

After k8s.io/apiextensions-apiserver `pkg/registry/customresource` (`ScaleREST`): GET answers
an autoscaling/v1 `Scale` read from `specReplicasPath`, `statusReplicasPath` and
`labelSelectorPath`; PUT and PATCH write `spec.replicas` back to `specReplicasPath`.
Deployments, ReplicaSets, StatefulSets and ReplicationControllers (k8s.io/kubernetes
`pkg/registry/apps/*/storage`, `ScaleREST`) answer the same over `spec.replicas` and
`status.replicas`, their selector written as a string.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.kubeapi import errors
from gitops_lifecycle.simulation.kubeapi.columns import find
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

Obj = dict[str, Any]


def view(rt: ResourceType, obj: Obj) -> Obj:
    """The object's `Scale`."""
    paths = rt.scale or {}
    meta = obj["metadata"]
    shown = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                  "creationTimestamp") if k in meta}
    selector = find(obj, paths.get("labelSelectorPath", "")) if \
        paths.get("labelSelectorPath") else None
    if rt.builtin:
        selector = _selector((obj.get("spec") or {}).get("selector"))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": shown,
            "spec": {"replicas": find(obj, paths.get("specReplicasPath", "")) or 0},
            "status": {"replicas": find(obj, paths.get("statusReplicasPath", "")) or 0,
                       "selector": selector if isinstance(selector, str) else ""}}


def _selector(selector: Any) -> str:
    """A workload's selector as a label selector string (an RC's is a plain map)."""
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or ():
        operator, key = expression.get("operator"), expression.get("key")
        values = ",".join(expression.get("values") or ())
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": str(key), "DoesNotExist": f"!{key}"}.get(str(operator), ""))
    return ",".join(part for part in parts if part)


def with_replicas(rt: ResourceType, obj: Obj, scale: Obj) -> Obj:
    """The object with the replicas a `Scale` asks for (and its resourceVersion, if any)."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid_causes("Scale", "autoscaling", obj["metadata"]["name"], [
            errors.cause("FieldValueInvalid", f"Invalid value: {replicas}: must be greater "
                         "than or equal to 0", "spec.replicas")])
    path = [part for part in (rt.scale or {}).get("specReplicasPath", "").split(".") if part]
    updated: Obj = {**obj, "metadata": dict(obj["metadata"])}
    version = (scale.get("metadata") or {}).get("resourceVersion")
    if version:
        updated["metadata"]["resourceVersion"] = version
    node = updated
    for part in path[:-1]:
        node[part] = dict(node.get(part) or {})
        node = node[part]
    if path:
        node[path[-1]] = replicas
    return updated
