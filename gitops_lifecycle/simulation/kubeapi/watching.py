"""WATCH: a stream of changes from a resourceVersion, with bookmarks, timeouts and 410s.

A watch from resourceVersion 0 (or none) starts with synthetic ADDED events for the current
state; a watch from an older resourceVersion replays the history after it, or gets a 410
ERROR event when the history no longer reaches back that far, as the real server does.
With a selector, an object that stops matching arrives as DELETED and one that starts
matching as ADDED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gitops_lifecycle.simulation.kubeapi import conversion
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType
from gitops_lifecycle.simulation.kubeapi.selectors import Matcher
from gitops_lifecycle.simulation.kubeapi.store import ADDED, DELETED, MODIFIED, Change, Obj, Store

BOOKMARK, ERROR = "BOOKMARK", "ERROR"
CLOSE, DROP = b"close", b"drop"  # sentinels: end the stream cleanly, or cut the connection
SILENCE = b"silence"  # sentinel: send nothing more, not even bookmarks, but keep it open


@dataclass(frozen=True)
class WatchRequest:
    """What a WATCH asks for."""

    namespace: str | None = None
    match: Matcher | None = None
    resource_version: str | None = None
    bookmarks: bool = False
    send_initial_events: bool | None = None  # the watch-list protocol
    present: Callable[[Obj], dict[str, Any]] | None = None  # e.g. as a Table for kubectl


def event_bytes(kind: str, obj: dict[str, Any]) -> bytes:
    """One line of the stream."""
    return msgspec.json.encode({"type": kind, "object": obj}) + b"\n"


def with_kind(rt: ResourceType, raw: bytes) -> bytes:
    """An encoded stored object with the `kind` and `apiVersion` of `rt` spliced in."""
    return b'{"kind":"%s","apiVersion":"%s",%s' % (
        rt.kind.encode(), rt.api_version.encode(), raw[1:])


def too_old(rv: int, floor: int) -> bytes:
    """The ERROR event of a watch whose resourceVersion the history no longer reaches."""
    status = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {rv} ({floor})", "reason": "Expired",
        "code": 410,
    }
    return event_bytes(ERROR, status)


class Watcher:
    """One open watch: translates the store's changes into its queue of encoded events."""

    def __init__(self, *, store: Store, rt: ResourceType, request: WatchRequest) -> None:
        self._store = store
        self.rt = rt
        self._request = request
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._unsubscribe: Callable[[], None] | None = None

    def _present(self, obj: Obj) -> dict[str, Any]:
        if self._request.present is not None:
            return self._request.present(obj)
        return {"kind": self.rt.kind, "apiVersion": self.rt.api_version,
                **conversion.view(self.rt, obj)}

    def _translate(self, change: Change) -> str | None:
        namespace = self._request.namespace
        if namespace and self.rt.namespaced and change.obj["metadata"].get("namespace") != \
                namespace:
            return None
        match = self._request.match
        if match is None:
            return change.type
        now = change.type != DELETED and match(change.obj)
        before = change.old is not None and match(change.old)
        if change.type == MODIFIED:
            return MODIFIED if now and before else ADDED if now else DELETED if before else None
        if change.type == ADDED:
            return ADDED if now else None
        return DELETED if before else None

    def _encode(self, change: Change) -> bytes | None:
        kind = self._translate(change)
        if kind is None:
            return None
        if self._request.present is not None:
            return event_bytes(kind, self._present(change.obj))
        cache = f"{kind}|{self.rt.api_version}"
        line = change.encoded.get(cache)
        if line is None:
            line = change.encoded[cache] = self._line(kind, change.key, change.obj)
        return line

    def _line(self, kind: str, key: str, obj: Obj) -> bytes:
        if self._request.present is not None or conversion.converts(self.rt):
            return event_bytes(kind, self._present(obj))
        raw = with_kind(self.rt, self._store.encoded(self.rt.store_key, key, obj))
        return b'{"type":"%s","object":%s}\n' % (kind.encode(), raw)

    def _offer(self, change: Change) -> None:
        line = self._encode(change)
        if line is not None:
            self.queue.put_nowait(line)

    def start(self) -> None:
        """Queue the initial events and follow the store (no await: nothing slips between)."""
        store, rt, text = self._store, self.rt, self._request.resource_version
        initial = self._request.send_initial_events
        if initial is False and text in (None, "", "0"):
            pass  # only what happens from now on
        elif initial or text in (None, "", "0"):
            prefix = f"{self._request.namespace}/" if rt.namespaced and \
                self._request.namespace else ""
            match = self._request.match
            for key, obj in store.iterate(rt.store_key, start="", rv=store.rv, prefix=prefix):
                if match is None or match(obj):
                    self.queue.put_nowait(self._line(ADDED, key, obj))
            if initial:
                # KEP-3157: the end of the initial state, so the client knows its list is whole
                self.queue.put_nowait(self.bookmark(initial_events_end=True))
        else:
            rv = int(text)
            if rv < store.floor:
                self.queue.put_nowait(too_old(rv, store.floor))
                self.queue.put_nowait(CLOSE)
                return
            for change in store.changes_after(rt.store_key, rv):
                self._offer(change)
        self._unsubscribe = store.subscribe(rt.store_key, self._offer)

    def stop(self) -> None:
        """Stop following the store."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def bookmark(self, *, initial_events_end: bool = False) -> bytes:
        """A BOOKMARK at the current resourceVersion (safe: the queue is empty)."""
        metadata: dict[str, Any] = {"resourceVersion": str(self._store.rv)}
        if initial_events_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": metadata}
        return event_bytes(BOOKMARK, obj)
