"""Events the controllers record, as core/v1 Events like kube-controller-manager's."""

from __future__ import annotations

import secrets

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation.kubeapi.controllers.objects import Writer
from gitops_lifecycle.simulation.kubeapi.store import Obj

EVENTS = "/events"
POD = ("v1", "Pod")


def record(  # noqa: PLR0913 -- the fields of an Event
    writer: Writer, obj: Obj, ref: tuple[str, str], reason: str, message: str, *,
    component: str, warning: bool = False,
) -> None:
    """Record an Event about `obj`, of (apiVersion, kind) `ref`, named as client-go names them."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    when = format_time(writer.registry.clock.now())
    writer.create(EVENTS, {"apiVersion": "v1", "kind": "Event", "metadata": {
        "name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {"apiVersion": ref[0], "kind": ref[1], "name": meta["name"],
                           "namespace": meta.get("namespace"), "uid": meta["uid"],
                           "resourceVersion": meta.get("resourceVersion")},
        "reason": reason, "message": message, "type": "Warning" if warning else "Normal",
        "count": 1, "firstTimestamp": when, "lastTimestamp": when,
        "source": {"component": component}, "reportingComponent": component,
        "reportingInstance": ""}, namespace)
