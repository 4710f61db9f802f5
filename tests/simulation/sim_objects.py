"""Small valid objects for the simulated cluster's tests."""

from __future__ import annotations

from typing import Any


def job(name: str, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    """A minimal valid Job."""
    body: dict[str, Any] = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, **extra.pop("metadata", {})},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                       "restartPolicy": "Never"}}},
    }
    body.update(extra)
    return body


def pod(name: str, namespace: str = "default", node: str | None = "node-1",
        **extra: Any) -> dict[str, Any]:
    """A minimal valid Pod, scheduled on `node`."""
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **extra.pop("metadata", {})},
        "spec": spec, "status": {"phase": "Running"},
    }
    body.update(extra)
    return body


def node(name: str, *, ready: bool = True) -> dict[str, Any]:
    """A Node whose Ready condition is True or Unknown."""
    condition = {"type": "Ready", "status": "True" if ready else "Unknown"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {}, "status": {"conditions": [condition]}}


def owned_by(owner: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """An ownerReference to `owner`."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": controller, "blockOwnerDeletion": True}


def proxy_config(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    """A ProxyConfig its CRD's schema accepts (required fields set)."""
    body = {"serviceName": name, "externalHost": f"https://{name}.example.com",
            "authentikConfig": {"providerName": name}, **spec}
    return {"apiVersion": "gitops.io/v1", "kind": "ProxyConfig",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}
