"""The garbage collector's sweep: deletes objects none of whose owners exist any more.

Deleting an owner already takes its dependents with it (the registry propagates deletions);
this catches the rest: an object created with ownerReferences to owners that are gone, or
never were — an owner counts as absent when no live object has its uid.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitops_lifecycle.simulation.kubeapi.catalog import BUILTIN
from gitops_lifecycle.simulation.kubeapi.controllers.objects import Writer, deleting
from gitops_lifecycle.simulation.kubeapi.store import Change, Obj

_SEPARATOR = "\t"


def _owned(obj: Obj) -> bool:
    return bool(obj["metadata"].get("ownerReferences")) and not deleting(obj)


class GarbageCollector:
    """Deletes orphaned dependents in the background."""

    name: str = "garbage-collector"
    follows: tuple[str, ...] = tuple(BUILTIN)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.registry.store

    def keys(self, change: Change) -> Iterable[str]:
        """An object with owners that was created or changed."""
        if change.type == "DELETED" or not _owned(change.obj):
            return []
        return [f"{change.store}{_SEPARATOR}{change.key}"]

    def all_keys(self) -> Iterable[str]:
        """Every object with owners."""
        return [f"{storage}{_SEPARATOR}{key}" for storage in BUILTIN
                for key, obj in self._store.objects(storage).items() if _owned(obj)]

    def reconcile(self, key: str, now: float) -> float | None:  # noqa: ARG002 -- no timers
        """Delete the object if none of its owners is alive."""
        storage, _, name = key.partition(_SEPARATOR)
        obj = self._store.get(storage, name)
        if obj is None or not _owned(obj):
            return None
        refs = obj["metadata"]["ownerReferences"]
        if any(self._writer.registry.by_uid(ref.get("uid", "")) is not None for ref in refs):
            return None
        self._writer.delete(storage, obj)
        return None
