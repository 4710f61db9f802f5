"""One storage seen through several APIs: Events are core/v1 in storage, events.k8s.io/v1 too.

The real server keeps one Event storage and converts on the way in and out
(`k8s.io/kubernetes/pkg/apis/events/v1/conversion.go`): `note` is `message`, `regarding` is
`involvedObject`, `reportingController` is `reportingComponent`, and the `deprecated*`
fields are the core fields of the same names.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

# events.k8s.io/v1 name -> core/v1 name (the fields not listed are the same in both)
EVENT_FIELDS = {
    "note": "message", "regarding": "involvedObject", "reportingController":
    "reportingComponent", "deprecatedSource": "source", "deprecatedFirstTimestamp":
    "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count",
}
_TO_EVENTS = {core: new for new, core in EVENT_FIELDS.items()}


def converts(rt: ResourceType) -> bool:
    """Whether objects of `rt` differ from their stored form."""
    return rt.group == "events.k8s.io"


def to_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as sent through `rt`, in its stored (core/v1) form."""
    if not converts(rt):
        return obj
    return {EVENT_FIELDS.get(key, key): value for key, value in obj.items()}


def view(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object as `rt` shows it."""
    if not converts(rt):
        return obj
    return {_TO_EVENTS.get(key, key): value for key, value in obj.items()}


def field_label(rt: ResourceType, label: str) -> str:
    """A field selector label of `rt` as a path in the stored object."""
    if not converts(rt):
        return label
    head, dot, rest = label.partition(".")
    return EVENT_FIELDS.get(head, head) + dot + rest
