"""A readable account of what happens on the simulated cluster, in simulated time.

It reads the cluster's changes (not the daemon's internals), so it tells what a user of the
cluster would see: which objects went, how old they were, and the Events the daemon wrote.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from gitops_lifecycle.clock import Clock, format_time, parse_time
from gitops_lifecycle.simulation.kubeapi.cluster import SimulatedCluster
from gitops_lifecycle.simulation.kubeapi.store import ADDED, DELETED, Change
from gitops_lifecycle.simulation.kubeapi.tables import human_age

_NARRATED = {"batch/jobs": "Job", "/pods": "Pod", "apps/replicasets": "ReplicaSet",
             "/events": "Event", "events.k8s.io/events": "Event"}
_OUR_COMPONENTS = ("gitops-lifecycle",)


def _name(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _finished(obj: dict[str, Any]) -> float | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return None


class Narrator:
    """Prints one line per notable change, stamped with simulated time."""

    def __init__(self, *, cluster: SimulatedCluster, clock: Clock,
                 out: TextIO | None = None) -> None:
        self._cluster = cluster
        self._clock = clock
        self._out = out or sys.stdout
        self.began = clock.now()
        self._unsubscribe: list[Callable[[], None]] = []
        self.deleted: Counter[str] = Counter()
        self._events_deleted = 0

    def start(self) -> None:
        """Begin narrating."""
        for store in _NARRATED:
            self._unsubscribe.append(self._cluster.store.subscribe(store, self._changed))

    def stop(self) -> None:
        """Stop narrating."""
        self.flush()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def say(self, text: str) -> None:
        """One line, stamped with the simulated time and how far it is from the start."""
        now = self._clock.now()
        stamp = format_time(now)[11:19]
        elapsed = human_age(now - self.began)
        print(f"[{stamp} sim, +{elapsed:>6}] {text}", file=self._out, flush=True)

    def flush(self) -> None:
        """Report Events deleted since the last flush (a sweep removes them in a batch)."""
        if self._events_deleted:
            self.say(f"deleted {self._events_deleted} old Event(s)")
            self._events_deleted = 0

    def _changed(self, change: Change) -> None:
        kind = _NARRATED[change.store]
        if kind == "Event":
            self._event(change)
        elif change.type == DELETED:
            self._deleted(kind, change)

    def _event(self, change: Change) -> None:
        obj = change.obj
        if change.type == DELETED:
            self.deleted["Event"] += 1
            self._events_deleted += 1
            return
        # Core/v1 field names, or events.k8s.io/v1 ones where that API keeps its own store.
        component = (obj.get("source") or {}).get("component") or \
            obj.get("reportingComponent") or obj.get("reportingController") or ""
        if change.type == ADDED and component.startswith(_OUR_COMPONENTS):
            involved = obj.get("involvedObject") or obj.get("regarding") or {}
            where = "/".join(filter(None, (involved.get("namespace"), involved.get("name"))))
            target = f"{involved.get('kind')} {where}"
            message = obj.get("message") or obj.get("note")
            self.say(f"Event {obj.get('type')} {obj.get('reason')} on {target}: {message}")

    def _deleted(self, kind: str, change: Change) -> None:
        obj, now = change.old or change.obj, self._clock.now()
        created = parse_time(obj["metadata"].get("creationTimestamp")) or now
        detail = f"created {human_age(now - created)} ago"
        if kind == "Job" and (finished := _finished(obj)) is not None:
            detail = f"finished {human_age(now - finished)} ago"
        if kind == "Pod":
            since = parse_time(obj["metadata"].get("deletionTimestamp"))
            if since is None or now - since < 60:
                return  # an ordinary pod shutdown, not worth a line
            node = (obj.get("spec") or {}).get("nodeName") or "no node"
            detail = f"stuck Terminating for {human_age(now - since)} on {node}"
        self.deleted[kind] += 1
        self.say(f"deleted {kind} {_name(obj)} ({detail})")

    def census(self) -> None:
        """A line of how many objects of each narrated kind are left."""
        store = self._cluster.store
        counts: Counter[str] = Counter()
        terminating: Counter[str] = Counter()
        for key, kind in _NARRATED.items():  # Events may sit in one store or two
            objects = store.objects(key).values()
            counts[kind] += len(objects)
            terminating[kind] += sum(1 for o in objects if o["metadata"].get("deletionTimestamp"))
        parts = [f"{count} {kind}s" + (f" ({terminating[kind]} Terminating)"
                                       if terminating[kind] else "")
                 for kind, count in counts.items()]
        self.say("cluster now: " + ", ".join(parts))
