"""The Table columns of a custom resource: its CRD version's `additionalPrinterColumns`.

After k8s.io/apiextensions-apiserver `pkg/registry/customresource/tableconvertor`: a `Name`
column first, then each printer column, its cell the value its `jsonPath` finds (nil when
nothing is there); a `date` column shows the time since (`5m`), as `kubectl get` prints ages.
Without printer columns a version shows Name and Age (`.metadata.creationTimestamp`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gitops_lifecycle.clock import parse_time
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

_NAME = {"name": "Name", "type": "string", "format": "name", "priority": 0,
         "description": "Name must be unique within a namespace. Is required when creating "
         "resources, although some resources may allow a client to request the generation of "
         "an appropriate name automatically. Name is primarily intended for creation "
         "idempotence and configuration definition. Cannot be updated. More info: "
         "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_STEP = re.compile(r"""\.([^.\[]+)|\[(\d+)\]|\[\?\(@\.([\w.]+)\s*==\s*["']([^"']*)["']\)\]""")


def _printer_columns(rt: ResourceType) -> tuple[dict[str, Any], ...]:
    return rt.columns or (_AGE,)


def definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The `columnDefinitions` of a custom resource."""
    return [_NAME] + [{"name": c["name"], "type": c.get("type", "string"),
                       "format": c.get("format", ""), "description": c.get("description", ""),
                       "priority": int(c.get("priority") or 0)}
                      for c in _printer_columns(rt)]


def find(obj: Any, path: str) -> Any:
    """What a kubectl-style JSONPath (`.a.b`, `[0]`, `[?(@.type=="Ready")]`) selects."""
    path = path.strip().removeprefix("{").removesuffix("}")
    current = [obj]
    position = 0
    while position < len(path) and current:
        step = _STEP.match(path, position)
        if step is None:
            return None
        position = step.end()
        key, index, field, wanted = step.groups()
        if key is not None:
            current = [item[key] for item in current if isinstance(item, dict) and key in item]
        elif index is not None:
            current = [item[int(index)] for item in current
                       if isinstance(item, list) and int(index) < len(item)]
        else:
            current = [entry for item in current if isinstance(item, list) for entry in item
                       if str(find(entry, "." + field)) == wanted]
    return current[0] if current else None


def cells(rt: ResourceType, obj: dict[str, Any], now: float,
          human: Callable[[float], str]) -> list[Any]:
    """One row's cells."""
    row: list[Any] = [obj["metadata"]["name"]]
    for column in _printer_columns(rt):
        value = find(obj, column.get("jsonPath", ""))
        if value is not None and column.get("type") == "date":
            moment = parse_time(value) if isinstance(value, str) else None
            value = human(now - moment) if moment is not None else None
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":"))
        row.append(value)
    return row
