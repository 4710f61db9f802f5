"""`metadata.managedFields`: who set which field, kept on every write as the real server does.

Follows k8s.io/apiserver `endpoints/handlers/fieldmanager` over structured-merge-diff's
`merge.Updater` (https://kubernetes.io/docs/reference/using-api/server-side-apply/):

- a create, update or non-apply patch gives its manager (`fieldManager`, else the first
  word of the User-Agent) the fields it added or changed, as an `Update` entry per manager
  and apiVersion, and takes them from every other manager; fields it removed leave every
  manager (`Updater.Update`, forced);
- an apply gives its manager exactly the fields of its configuration (an `Apply` entry),
  removes what it applied last time and no longer applies unless another manager owns it
  (`prune`), and fails with a 409 naming each manager and field whose value it would change
  unless `force=true`, which takes those fields from them (`Updater.Apply`);
- `apiVersion`, `kind` and the system fields of `metadata` are never owned (`stripMeta`);
  `status` is not owned through the main resource of a kind with a status subresource, and
  only `status` is owned through that subresource (the strategies' reset fields);
- managedFields sent on an update replace the recorded ones, an empty list keeps them, and
  `[{}]` clears them (`decodeLiveOrNew`); entries are sorted Apply first, then by time and
  manager (`sortEncodedManagedFields`); the time of an entry moves when its manager changes
  the object.

Left out: the cap of ten Update managers (`ancient-changes`), conversion of field sets
between the versions of one resource, the `last-applied-configuration` interplay with
client-side apply, and the duplicate-item rules of associative lists.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from gitops_lifecycle.simulation.kubeapi import errors, fieldsets, schema
from gitops_lifecycle.simulation.kubeapi.fieldsets import FieldSet, Path
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType
from gitops_lifecycle.simulation.kubeapi.structured import Types

APPLY, UPDATE = "Apply", "Update"
_STRIPPED: FieldSet = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + name) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
        "generation", "managedFields", "resourceVersion")}
Key = tuple[str, str, str, str]  # manager, operation, apiVersion (Update only), subresource


@dataclass
class Entry:
    """One manager's fields."""

    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: FieldSet = field(default_factory=set)

    @property
    def key(self) -> Key:
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                               "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fieldsets.encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


Managed = dict[Key, Entry]


def decode(entries: Any) -> Managed:
    """The entries of `metadata.managedFields` (unreadable ones are skipped)."""
    found: Managed = {}
    for raw in entries if isinstance(entries, list) else ():
        if not isinstance(raw, dict) or not raw.get("manager") or \
                raw.get("operation") not in (APPLY, UPDATE):
            continue
        entry = Entry(raw["manager"], raw["operation"], str(raw.get("apiVersion") or ""),
                      str(raw.get("subresource") or ""), raw.get("time"),
                      fieldsets.decode(raw.get("fieldsV1")))
        found[entry.key] = entry
    return found


def encode(managed: Managed) -> list[dict[str, Any]]:
    """`metadata.managedFields`: Apply entries first, then by time, manager, version."""
    entries = [entry for entry in managed.values() if entry.fields]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version,
                                e.subresource))
    return [entry.encode() for entry in entries]


@functools.cache
def _builtin_types() -> Types:
    return Types(schema.definitions())


def types_for(rt: ResourceType, custom: dict[str, Any] | None) -> tuple[Types, dict[str, Any]]:
    """The shapes and root schema of a kind (a custom resource's from its CRD, if any)."""
    if rt.builtin:
        definition = schema.definition_name(rt.api_version, rt.kind)
        if definition is not None:
            return _builtin_types(), {"$ref": definition}
    return Types({}), custom or {}


def manager_of(field_manager: str | None, user_agent: str) -> str:
    """`fieldManager`, or the User-Agent up to its first `/` (`prefixFromUserAgent`)."""
    return field_manager or user_agent.split("/", 1)[0][:128]


def _owned(paths: FieldSet, rt: ResourceType, subresource: str | None) -> FieldSet:
    """The paths a write through the main resource or a subresource can own."""
    paths = paths - _STRIPPED
    if subresource == "status":
        return {path for path in paths if path[0] == "f:status" and len(path) > 1}
    if rt.status:
        return fieldsets.without(paths, {("f:status",)})
    return paths


def _body(obj: dict[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
            "metadata": meta}


def _live_or_new(live: dict[str, Any] | None, new: dict[str, Any],
                 subresource: str | None) -> Managed:
    before = decode(((live or {}).get("metadata") or {}).get("managedFields"))
    if subresource:
        return before
    sent = (new.get("metadata") or {}).get("managedFields")
    if sent == [{}]:
        return {}
    given = decode(sent)
    return given if any(entry.fields for entry in given.values()) else before


def _set(obj: dict[str, Any], managed: Managed) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    encoded = encode(managed)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


@dataclass(frozen=True)
class Write:
    """Who writes, and where."""

    rt: ResourceType
    manager: str | None
    now: str
    subresource: str | None = None
    custom: dict[str, Any] | None = None  # a custom resource's schema


def update(write: Write, live: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new` with its managedFields: the writer owns what it added or changed."""
    managed = _live_or_new(live, new, write.subresource)
    if write.manager is None:
        return _set(new, managed)
    types, root = types_for(write.rt, write.custom)
    changes = types.compare(_body(live), _body(new), root)
    changed = _owned(changes.added | changes.modified, write.rt, write.subresource)
    removed = _owned(changes.removed, write.rt, write.subresource)
    for entry in managed.values():
        entry.fields -= removed | changed
    if changed:
        mine = Entry(write.manager, UPDATE, write.rt.api_version, write.subresource or "")
        mine = managed.setdefault(mine.key, mine)
        mine.fields |= changed
        mine.time = write.now
    return _set(new, managed)


def apply(write: Write, live: dict[str, Any] | None, config: dict[str, Any],
          *, force: bool) -> dict[str, Any]:
    """The live object with `config` applied by `write.manager`, with its managedFields."""
    assert write.manager is not None
    types, root = types_for(write.rt, write.custom)
    managed = decode(((live or {}).get("metadata") or {}).get("managedFields"))
    before = _body(live)
    applied = _body(config)
    mine = Entry(write.manager, APPLY, write.rt.api_version, write.subresource or "")
    last = managed.get(mine.key)
    mine.time = last.time if last is not None else write.now
    mine.fields = _owned(types.field_set(applied, root), write.rt, write.subresource)
    managed[mine.key] = mine
    merged = types.merge(before, applied, root)
    if last is not None and last.fields:
        merged = _prune(types, root, merged, managed, last.fields)
    changes = types.compare(before, merged, root)
    changed = _owned(changes.added | changes.modified, write.rt, write.subresource)
    removed = _owned(changes.removed, write.rt, write.subresource)
    conflicts: dict[Key, FieldSet] = {}
    for key, entry in managed.items():
        if key == mine.key:
            continue
        clash = entry.fields & changed
        if clash:
            conflicts[key] = clash
        entry.fields -= removed
    if conflicts and not force:
        raise conflict_error(managed, conflicts)
    for key, clash in conflicts.items():
        managed[key].fields -= clash
    if merged != before:
        mine.time = write.now
    return _set({"apiVersion": write.rt.api_version, "kind": write.rt.kind, **merged},
                managed)


def _prune(types: Types, root: dict[str, Any], merged: dict[str, Any], managed: Managed,
           last: FieldSet) -> dict[str, Any]:
    """Remove what the applier applied last time and no longer does, unless another
    manager owns it (`Updater.prune`, `addBackOwnedItems`, `addBackDanglingItems`)."""
    last_members = types.named_members(last, root)
    owned: FieldSet = set()
    for entry in managed.values():
        owned |= entry.fields
    everything = _nodes(types, merged, root)
    pruned = types.remove(merged, last_members, root) or {}
    pruned = types.remove(merged, everything - (_nodes(types, pruned, root) | types.named_members(
        owned, root)), root) or {}
    gone = everything - _nodes(types, pruned, root)
    result: dict[str, Any] = types.remove(merged, gone & last_members, root) or {}
    return result


def _nodes(types: Types, value: Any, root: dict[str, Any]) -> FieldSet:
    return fieldsets.prefixes(types.field_set(value, root))


def conflict_error(managed: Managed, conflicts: dict[Key, FieldSet]) -> errors.ApiError:
    """409 naming each manager and field an apply would take (`NewConflictError`)."""
    pairs: list[tuple[str, Path]] = sorted(
        (_print_manager(managed[key]), path) for key, paths in conflicts.items()
        for path in paths)
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who}",
               "field": fieldsets.text(path)} for who, path in pairs]
    if len(pairs) == 1:
        who, path = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {fieldsets.text(path)}"
    else:
        lines: list[str] = []
        for who in sorted({who for who, _ in pairs}):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {fieldsets.text(path)}" for other, path in pairs if other == who]
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return errors.ApiError(409, "Conflict", message, details={"causes": causes})


def _print_manager(entry: Entry) -> str:
    text = f'"{entry.manager}"'
    if entry.subresource:
        text += f' with subresource "{entry.subresource}"'
    if entry.operation == UPDATE:
        text += f" using {entry.api_version}"
    return text
