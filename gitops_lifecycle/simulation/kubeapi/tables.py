"""Server-side printing (`as=Table`), which kubectl asks for when it prints objects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gitops_lifecycle.clock import parse_time
from gitops_lifecycle.simulation.kubeapi import columns, printers
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "priority": 0,
     "description": "Name must be unique within a namespace."},
    {"name": "Status", "type": "string", "format": "", "priority": 0,
     "description": "Phase, or Terminating while the object is being deleted."},
    {"name": "Age", "type": "string", "format": "", "priority": 0,
     "description": "Time since the object was created."},
]


def wanted(request: web.Request) -> bool:
    """Whether the client asked for a Table (kubectl does)."""
    return "as=Table" in request.headers.get("Accept", "")


def human_age(seconds: float) -> str:
    """An age the way kubectl prints it: 45s, 3m20s, 5h, 3d4h, 400d."""
    seconds = max(int(seconds), 0)
    # (below this many seconds: big unit and its size, small unit and its size), as kubectl
    steps = ((120, "s", 1, "", 1), (600, "m", 60, "s", 1), (3 * 3600, "m", 60, "", 1),
             (8 * 3600, "h", 3600, "m", 60), (48 * 3600, "h", 3600, "", 1),
             (8 * 86400, "d", 86400, "h", 3600))
    for limit, big, size, small, small_size in steps:
        if seconds < limit:
            text = f"{seconds // size}{big}"
            rest = (seconds % size) // small_size if small else 0
            return f"{text}{rest}{small}" if rest else text
    return f"{seconds // 86400}d"


def _status(obj: dict[str, Any]) -> str:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status") or {}
    if phase := status.get("phase"):
        return str(phase)
    conditions = [c.get("type") for c in status.get("conditions") or ()
                  if c.get("status") == "True"]
    return ",".join(str(c) for c in conditions)


def _row(rt: ResourceType | None, obj: dict[str, Any], now: float,
         include: str = "Metadata") -> dict[str, Any]:
    meta = obj["metadata"]
    printer = printers.PRINTERS.get((rt.group if rt else "", rt.kind if rt else ""))
    if rt is not None and rt.crd:
        cells = columns.cells(rt, obj, now, human_age)
    elif printer is not None:
        cells = printer[1](obj, now, human_age)
    else:
        created = parse_time(meta.get("creationTimestamp")) or now
        cells = [meta["name"], _status(obj), human_age(now - created)]
    row: dict[str, Any] = {"cells": cells}
    if include == "Object":
        row["object"] = {"kind": rt.kind, "apiVersion": rt.api_version, **obj} if rt else obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": meta}
    return row


def _columns(rt: ResourceType | None) -> list[dict[str, Any]]:
    if rt is not None and rt.crd:
        return columns.definitions(rt)
    printer = printers.PRINTERS.get((rt.group, rt.kind)) if rt else None
    return printer[0] if printer is not None else _COLUMNS


def table(rt: ResourceType, listed: dict[str, Any], now: float,
          include: str = "Metadata") -> dict[str, Any]:
    """A list response as a Table (`includeObject`: None, Metadata or Object)."""
    shown = rt
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listed["metadata"],
            "columnDefinitions": _columns(shown),
            "rows": [_row(shown, o, now, include) for o in listed["items"]]}


def row_table(obj: dict[str, Any], now: float, rt: ResourceType | None = None) -> dict[str, Any]:
    """One watched object as a Table of one row, as kubectl's `get -w` expects."""
    meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": _columns(rt), "rows": [_row(rt, obj, now)]}
