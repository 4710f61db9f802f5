"""The columns `kubectl get` shows per kind, as the API server's table printers define them.

From k8s.io/kubernetes/pkg/printers/internalversion/printers.go (`AddHandlers`): each kind's
column definitions (priority 1 columns appear with `-o wide`) and how a row is filled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_lifecycle.clock import parse_time

Obj = dict[str, Any]
Cells = Callable[[Obj, float, Callable[[float], str]], list[Any]]


def column(name: str, kind: str = "string", priority: int = 0, fmt: str = "",
           description: str = "") -> dict[str, Any]:
    """One `TableColumnDefinition`."""
    return {"name": name, "type": kind, "format": fmt, "priority": priority,
            "description": description or name}


def _age(obj: Obj, now: float, human: Callable[[float], str]) -> str:
    created = parse_time(obj["metadata"].get("creationTimestamp")) or now
    return human(now - created)


def _pod(obj: Obj, now: float, human: Callable[[float], str]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else \
        status.get("reason") or status.get("phase") or ""
    return [obj["metadata"]["name"], f"{ready}/{len(spec.get('containers') or [])}", phase,
            restarts, _age(obj, now, human), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            "<none>"]


def _job(obj: Obj, now: float, human: Callable[[float], str]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conditions = {c.get("type") for c in status.get("conditions") or ()
                  if c.get("status") == "True"}
    state = next((s for s in ("Complete", "Failed", "Suspended") if s in conditions),
                 "Running")
    completions = spec.get("completions")
    done = f"{status.get('succeeded') or 0}/{completions if completions is not None else 1}"
    start = parse_time(status.get("startTime"))
    end = parse_time(status.get("completionTime")) or now
    duration = human(end - start) if start is not None else ""
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [obj["metadata"]["name"], state, done, duration, _age(obj, now, human),
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            ",".join(f"{k}={v}" for k, v in
                     ((spec.get("selector") or {}).get("matchLabels") or {}).items())]


def _event(obj: Obj, now: float, human: Callable[[float], str]) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    last = parse_time(obj.get("lastTimestamp")) or parse_time(
        (obj.get("series") or {}).get("lastObservedTime")) or parse_time(obj.get("eventTime"))
    first = parse_time(obj.get("firstTimestamp")) or parse_time(obj.get("eventTime"))
    source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
    target = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
    return [human(now - last) if last else "<unknown>", obj.get("type", ""),
            obj.get("reason", ""), target, involved.get("fieldPath", ""), source,
            obj.get("message", ""), human(now - first) if first else "<unknown>",
            int(obj.get("count") or (obj.get("series") or {}).get("count") or 1),
            obj["metadata"]["name"]]


def _crd(obj: Obj, now: float, human: Callable[[float], str]) -> list[Any]:
    """apiextensions-apiserver's CRD table: the creation time as written, not an age."""
    del now, human
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")]


PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], Cells]] = {
    ("", "Pod"): ([
        column("Name", fmt="name"), column("Ready"), column("Status"),
        column("Restarts", "string"), column("Age"), column("IP", priority=1),
        column("Node", priority=1), column("Nominated Node", priority=1),
        column("Readiness Gates", priority=1)], _pod),
    ("batch", "Job"): ([
        column("Name", fmt="name"), column("Status"), column("Completions"),
        column("Duration"), column("Age"), column("Containers", priority=1),
        column("Images", priority=1), column("Selector", priority=1)], _job),
    ("", "Event"): ([
        column("Last Seen"), column("Type"), column("Reason"), column("Object"),
        column("Subobject", priority=1), column("Source", priority=1), column("Message"),
        column("First Seen", priority=1), column("Count", "integer", priority=1),
        column("Name", fmt="name", priority=1)], _event),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ([
        column("Name", fmt="name"), column("Created At", "date")], _crd),
}
