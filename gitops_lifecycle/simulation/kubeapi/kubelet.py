"""A simulated kubelet: finishes terminating pods once their grace period has passed.

Pods on a node that is gone or not Ready stay Terminating, as on a real cluster whose node
died: nobody is there to confirm the containers stopped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gitops_lifecycle.clock import Clock, parse_time
from gitops_lifecycle.simulation.kubeapi.catalog import BUILTIN
from gitops_lifecycle.simulation.kubeapi.registry import Registry
from gitops_lifecycle.simulation.kubeapi.store import DELETED, Change

PODS, NODES = "/pods", "/nodes"


def node_ready(node: dict[str, Any] | None) -> bool:
    """Whether a node exists and its Ready condition is True."""
    if node is None:
        return False
    conditions = (node.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class Kubelet:
    """Every node's kubelet in one loop, woken by pod and node changes and by the clock."""

    name = "kubelet"

    def __init__(self, *, registry: Registry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self._wake = asyncio.Event()
        self._terminating: set[str] = set()

    def _changed(self, change: Change) -> None:
        if change.store == PODS:
            if change.type != DELETED and change.obj["metadata"].get("deletionTimestamp"):
                self._terminating.add(change.key)
            else:
                self._terminating.discard(change.key)
        self._wake.set()

    def refresh(self) -> None:
        """Find the terminating pods afresh (when changes were not being followed)."""
        self._terminating = {
            key for key, pod in self._registry.store.objects(PODS).items()
            if pod["metadata"].get("deletionTimestamp")
        }

    def due(self) -> tuple[list[dict[str, Any]], float | None]:
        """Terminating pods whose grace has passed on a Ready node, and the next deadline."""
        store = self._registry.store
        if not self._terminating:
            return [], None  # without reading the clock: a test may not have started it yet
        now, due, upcoming = self._clock.now(), [], None
        for key in list(self._terminating):
            pod = store.get(PODS, key)
            if pod is None:
                continue
            meta = pod["metadata"]
            deadline = parse_time(meta.get("deletionTimestamp"))
            if deadline is None:
                continue
            node = store.get(NODES, (pod.get("spec") or {}).get("nodeName") or "")
            if not node_ready(node):
                continue
            if meta.get("finalizers") and not meta.get("deletionGracePeriodSeconds"):
                continue  # already finished; only its finalizers hold it
            if deadline <= now:
                due.append(pod)
            elif upcoming is None or deadline < upcoming:
                upcoming = deadline
        return due, upcoming

    def step(self) -> float | None:
        """Finish every due pod; the time of the next deadline, if any."""
        due, upcoming = self.due()
        for pod in due:
            self._registry.finish_pod(BUILTIN[PODS], pod)
        return upcoming

    async def run(self) -> None:
        """Finish pods as their deadlines pass, until cancelled."""
        store = self._registry.store
        unsubscribe = [store.subscribe(PODS, self._changed), store.subscribe(NODES, self._changed)]
        self.refresh()
        try:
            while True:
                self._wake.clear()
                upcoming = self.step()
                waiters: set[asyncio.Future[Any]] = {
                    asyncio.ensure_future(self._wake.wait())}
                if upcoming is not None:
                    waiters.add(asyncio.ensure_future(self._clock.sleep_until(upcoming)))
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            for stop in unsubscribe:
                stop()
