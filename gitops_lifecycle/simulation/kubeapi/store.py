"""Objects, the global resourceVersion, the bounded change history and the watchers.

Stored objects are never mutated in place: every write stores a new dict, so a list snapshot
or an event in the history keeps the version it saw. Objects are stored without `kind` and
`apiVersion`; those depend on the version a client asks for.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

Obj = dict[str, Any]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def clone(obj: Any) -> Any:
    """A deep copy of JSON data (faster than `copy.deepcopy`)."""
    return msgspec.json.decode(msgspec.json.encode(obj))


def object_key(namespace: str | None, name: str) -> str:
    """The storage key; sorting by it orders lists like etcd does."""
    return f"{namespace}/{name}" if namespace else name


@dataclass(eq=False)
class Change:
    """One committed change: the object after it (last state for DELETED) and before it."""

    rv: int
    store: str
    type: str
    key: str
    obj: Obj
    old: Obj | None
    encoded: dict[str, bytes] = field(default_factory=dict)


Listener = Callable[[Change], None]


class Store:
    """All objects by storage key, with the history that watches and continue tokens need."""

    def __init__(self, *, history: int) -> None:
        self.rv = 0
        self._objects: dict[str, dict[str, Obj]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._encoded: dict[str, dict[str, bytes]] = {}  # JSON of each live object
        self._history: deque[Change] = deque(maxlen=max(history, 1))
        self._floor = 0  # every change after this resourceVersion is in the history
        self._listeners: dict[str, set[Listener]] = {}
        self.expired_tokens_through = 0

    def objects(self, store: str) -> dict[str, Obj]:
        """The live objects of one storage key (do not mutate)."""
        return self._objects.setdefault(store, {})

    def get(self, store: str, key: str) -> Obj | None:
        """One object, or None."""
        return self._objects.get(store, {}).get(key)

    def encoded(self, store: str, key: str, obj: Obj) -> bytes:
        """The JSON of `obj` (from the cache when it is the live version)."""
        if self._objects.get(store, {}).get(key) is obj:
            return self._encoded[store][key]
        return msgspec.json.encode(obj)

    def sorted_keys(self, store: str) -> list[str]:
        """The keys of one storage, sorted; cached until an object is added or removed."""
        keys = self._sorted.get(store)
        if keys is None:
            keys = self._sorted[store] = sorted(self.objects(store))
        return keys

    def next_rv(self) -> int:
        """Take the next resourceVersion."""
        self.rv += 1
        return self.rv

    def commit(self, store: str, key: str, obj: Obj, *, rv: int) -> Change:
        """Store `obj` (already carrying resourceVersion `rv`) and tell the watchers."""
        objects = self.objects(store)
        old = objects.get(key)
        objects[key] = obj
        self._encoded.setdefault(store, {})[key] = msgspec.json.encode(obj)
        if old is None:
            self._sorted.pop(store, None)
        return self._record(Change(rv, store, ADDED if old is None else MODIFIED, key, obj, old))

    def remove(self, store: str, key: str, *, rv: int) -> Change | None:
        """Remove an object; its DELETED event carries the deletion's resourceVersion."""
        old = self.objects(store).pop(key, None)
        if old is None:
            return None
        self._encoded.get(store, {}).pop(key, None)
        self._sorted.pop(store, None)
        last = {**old, "metadata": {**old["metadata"], "resourceVersion": str(rv)}}
        return self._record(Change(rv, store, DELETED, key, last, old))

    def _record(self, change: Change) -> Change:
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].rv
        self._history.append(change)
        for listener in list(self._listeners.get(change.store, ())):
            listener(change)
        return change

    @property
    def floor(self) -> int:
        """The oldest resourceVersion a watch or a continue token can still start from."""
        return self._floor

    def compact(self) -> None:
        """Forget the history, as etcd compaction does: older resourceVersions get 410."""
        self._history.clear()
        self._floor = self.rv

    def changes_after(self, store: str, rv: int) -> list[Change]:
        """The changes of one storage after `rv` (the caller checked `rv >= floor`)."""
        start = bisect.bisect_right(self._history, rv, key=lambda change: change.rv)
        return [c for c in list(self._history)[start:] if c.store == store]

    def subscribe(self, store: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every change of one storage; returns the unsubscribe."""
        listeners = self._listeners.setdefault(store, set())
        listeners.add(listener)
        return lambda: listeners.discard(listener)

    def state_at(self, store: str, rv: int) -> dict[str, Obj | None]:
        """Objects that differ at `rv` from now: their version then (None: not there then)."""
        overlay: dict[str, Obj | None] = {}
        for change in reversed(self.changes_after(store, rv)):
            overlay[change.key] = change.old
        return overlay

    def iterate(
        self, store: str, *, start: str, rv: int, prefix: str = "",
    ) -> Iterator[tuple[str, Obj]]:
        """Keys and objects as they were at `rv`, in key order from `start`, under a prefix."""
        overlay = self.state_at(store, rv) if rv < self.rv else {}
        keys = self.sorted_keys(store)
        extra = sorted(key for key in overlay if key >= start and key.startswith(prefix))
        objects = self.objects(store)
        index = bisect.bisect_left(keys, max(start, prefix))
        position = 0
        while True:
            live = keys[index] if index < len(keys) else None
            if live is not None and not live.startswith(prefix):
                live = None
            pending = extra[position] if position < len(extra) else None
            if live is None and pending is None:
                return
            if pending is not None and (live is None or pending <= live):
                position += 1
                if pending == live:
                    index += 1
                key, obj = pending, overlay[pending]
            else:
                index += 1
                key = live  # type: ignore[assignment]
                obj = objects[key]
            if obj is not None:
                yield key, obj
