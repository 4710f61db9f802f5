"""The kubelet's running half: starts the containers of pods bound to Ready nodes and ends them.

A container "runs" for the seconds its `sleep N` commands add up to, or for what the pod's
annotation `simulation.gitops.io/runs-for` says (`30`, `90s`, `2m`); one that loops for ever
(`while true`) or, under `restartPolicy: Always`, one with neither runs until deleted; any
other ends at once. It exits with the code in `simulation.gitops.io/exit-code` (default 0).
Then `restartPolicy` decides: Never ends the pod (Succeeded, or Failed on a non-zero code);
OnFailure restarts a failed container and Always any, counting `restartCount`. Pods being
deleted are the other half's (`kubeapi/kubelet.py`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any

from gitops_lifecycle.clock import format_time, parse_time
from gitops_lifecycle.durations import parse_duration
from gitops_lifecycle.simulation.kubeapi.controllers.events import POD, record
from gitops_lifecycle.simulation.kubeapi.controllers.objects import (
    NODES,
    PODS,
    TERMINAL,
    Writer,
    deleting,
    phase,
    with_condition,
)
from gitops_lifecycle.simulation.kubeapi.kubelet import node_ready
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj

RUNS_FOR = "simulation.gitops.io/runs-for"
EXIT_CODE = "simulation.gitops.io/exit-code"
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")
_FOREVER = re.compile(r"\bwhile\s+(?:true|:)|\bsleep\s+inf")


def run_seconds(pod: Obj) -> float | None:
    """How long the pod's containers run; None: until deleted."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    annotation = (meta.get("annotations") or {}).get(RUNS_FOR)
    if annotation is not None:
        with contextlib.suppress(ValueError):
            return parse_duration(annotation)
    longest = 0.0
    for container in spec.get("containers") or ():
        script = " ".join(str(part) for part in
                          [*(container.get("command") or ()), *(container.get("args") or ())])
        if _FOREVER.search(script):
            return None
        sleeps = [float(amount) for amount in _SLEEP.findall(script)]
        if not sleeps and spec.get("restartPolicy", "Always") == "Always":
            return None
        longest = max(longest, sum(sleeps))
    return longest


def exit_code(pod: Obj) -> int:
    """The code the pod's containers exit with."""
    text = (pod["metadata"].get("annotations") or {}).get(EXIT_CODE) or "0"
    return int(text) if text.lstrip("-").isdigit() else 1


def _running(container: dict[str, Any], started: str, restarts: int) -> dict[str, Any]:
    return {"name": container["name"], "image": container.get("image", ""),
            "imageID": "", "containerID": "", "ready": True, "started": True,
            "restartCount": restarts, "state": {"running": {"startedAt": started}}}


def _terminated(status: dict[str, Any], code: int, finished: str) -> dict[str, Any]:
    started = (status.get("state") or {}).get("running", {}).get("startedAt", finished)
    reason = "Completed" if code == 0 else "Error"
    return {**status, "ready": False, "started": False, "state": {"terminated": {
        "exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}}}


class Containers:
    """Runs pods on Ready nodes."""

    name: str = "kubelet-containers"
    follows: tuple[str, ...] = (PODS, NODES)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store

    def keys(self, change: Change) -> Iterable[str]:
        """A pod that changed; the pods of a node that changed."""
        if change.store == PODS:
            return [] if change.type == "DELETED" else [change.key]
        name = change.obj["metadata"]["name"]
        return [key for key, pod in self._store.objects(PODS).items()
                if (pod.get("spec") or {}).get("nodeName") == name]

    def all_keys(self) -> Iterable[str]:
        """The pods bound to a node and not finished."""
        return [key for key, pod in self._store.objects(PODS).items()
                if (pod.get("spec") or {}).get("nodeName") and phase(pod) not in TERMINAL]

    def reconcile(self, key: str, now: float) -> float | None:
        """Start, restart or end the pod's containers as their time comes."""
        pod = self._store.get(PODS, key)
        if pod is None or deleting(pod) or phase(pod) in TERMINAL:
            return None
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or not node_ready(self._store.get(NODES, node)):
            return None
        seconds = run_seconds(pod)
        if phase(pod) == "Pending":
            return self._start(pod, now, seconds)
        if seconds is None:
            return None
        statuses = (pod.get("status") or {}).get("containerStatuses") or ()
        began = min((parse_time((s.get("state") or {}).get("running", {}).get("startedAt"))
                     or now for s in statuses), default=now)
        if began + seconds > now:
            return began + seconds
        return self._exit(pod, now, seconds)

    def _start(self, pod: Obj, now: float, seconds: float | None,
               restarts: int = 0) -> float | None:
        when = format_time(now)
        spec = pod.get("spec") or {}
        status = dict(pod.get("status") or {})
        status.update(phase="Running", hostIP="10.0.0.1", podIP=_pod_ip(pod),
                      qosClass=status.get("qosClass", "BestEffort"))
        status.setdefault("startTime", when)
        status["containerStatuses"] = [_running(c, when, restarts)
                                       for c in spec.get("containers") or ()]
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            status = with_condition(status, kind, "True", now=now)
        self._writer.status(PODS, pod, status)
        for container in spec.get("containers") or ():
            record(self._writer, pod, POD, "Started", f"Started container {container['name']}",
                   component="kubelet")
        return None if seconds is None else now + seconds

    def _exit(self, pod: Obj, now: float, seconds: float) -> float | None:
        code, policy = exit_code(pod), (pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            restarts = max((int(s.get("restartCount", 0)) for s in
                            (pod.get("status") or {}).get("containerStatuses") or ()), default=0)
            self._start(pod, now, seconds, restarts + 1)
            return now + max(seconds, min(10.0 * 2.0**restarts, 300.0))  # CrashLoopBackOff
        when = format_time(now)
        status = dict(pod.get("status") or {})
        status["phase"] = "Succeeded" if code == 0 else "Failed"
        status["containerStatuses"] = [_terminated(s, code, when)
                                       for s in status.get("containerStatuses") or ()]
        for kind in ("ContainersReady", "Ready"):
            status = with_condition(status, kind, "False", now=now, reason="PodCompleted")
        self._writer.status(PODS, pod, status)
        return None


def _pod_ip(pod: Obj) -> str:
    number = int(pod["metadata"]["uid"].replace("-", "")[:6], 16)
    return f"10.244.{(number >> 8) % 256}.{number % 254 + 1}"
