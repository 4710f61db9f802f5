"""Objects walked by their schema as server-side apply walks them (structured-merge-diff).

The schema says how each value merges (kube-openapi's `schemaconv` reading of the OpenAPI
extensions the upstream schemas carry):

- an object with `properties` is a struct: its fields merge one by one, unless
  `x-kubernetes-map-type: atomic`;
- an object with only `additionalProperties` is a map whose entries merge one by one;
- a list is `x-kubernetes-list-type` `atomic` (replaced whole), `set` (items by value) or
  `map` (items by `x-kubernetes-list-map-keys`); without the extension a list with
  `x-kubernetes-patch-strategy: merge` is a map keyed by its `x-kubernetes-patch-merge-key`
  (or a set of scalars), any other list is atomic;
- a value with `x-kubernetes-preserve-unknown-fields` and no properties is "deduced": maps
  merge by entry, lists are atomic.

On top of that: the field set of an applied configuration (`field_set`, `ToFieldSet`), the
merge of a configuration into a live object (`merge`, `Merge`), what changed between two
objects (`compare`, `Compare`), removal of paths (`remove`, `RemoveItems`) and named fields
made members (`named_members`, `EnsureNamedFieldsAreMembers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitops_lifecycle.simulation.kubeapi.fieldsets import FieldSet, Path, key_element, value_element

SCALAR, STRUCT, MAP, LIST, DEDUCED = "scalar", "struct", "map", "list", "deduced"
_DEDUCED: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
# Defaults of list map keys that the published schemas do not carry (`+default` markers).
_KEY_DEFAULTS = {"protocol": "TCP"}


@dataclass(frozen=True)
class Shape:
    """How one value merges."""

    kind: str
    atomic: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    element: dict[str, Any] | None = None  # map entries' or list items' schema
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()


class Types:
    """Resolves schema nodes (`$ref` into `defs`) into shapes."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def resolve(self, node: dict[str, Any] | None) -> dict[str, Any]:
        if not node:
            return _DEDUCED
        ref = node.get("$ref")
        if isinstance(ref, str):
            return dict(self.defs.get(ref) or _DEDUCED)
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            return self.resolve(all_of[0])
        return node

    def shape(self, node: dict[str, Any] | None, value: Any = None) -> Shape:
        schema = self.resolve(node)
        kind = schema.get("type")
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-int-or-string") or kind in (
                "string", "integer", "number", "boolean"):
            return Shape(SCALAR)
        if kind == "array":
            return self._list(schema)
        if properties:
            return Shape(STRUCT, atomic=schema.get("x-kubernetes-map-type") == "atomic",
                         fields=properties, element=extra if isinstance(extra, dict) else None)
        if isinstance(extra, dict):
            return Shape(MAP, atomic=schema.get("x-kubernetes-map-type") == "atomic",
                         element=extra)
        return self._deduced(value)

    @staticmethod
    def _deduced(value: Any) -> Shape:
        if isinstance(value, dict):
            return Shape(MAP, element=_DEDUCED)
        if isinstance(value, list):
            return Shape(LIST, element=_DEDUCED)
        return Shape(SCALAR)

    def _list(self, schema: dict[str, Any]) -> Shape:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        list_type = schema.get("x-kubernetes-list-type")
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        if list_type is None and schema.get("x-kubernetes-patch-strategy", "").startswith(
                "merge"):
            merge_key = schema.get("x-kubernetes-patch-merge-key")
            list_type, keys = ("map", (merge_key,)) if merge_key else ("set", ())
        if list_type not in ("set", "map"):
            return Shape(LIST, atomic=True, element=items)
        return Shape(LIST, element=items, list_type=list_type, keys=keys)

    def child(self, shape: Shape, name: str) -> dict[str, Any] | None:
        """The schema of a struct's or a map's entry."""
        if name in shape.fields:
            found: dict[str, Any] = shape.fields[name]
            return found
        return shape.element

    def item_element(self, shape: Shape, item: Any, index: int) -> str:
        """The path element of a list item."""
        if shape.list_type == "set":
            return value_element(item)
        if shape.list_type == "map" and isinstance(item, dict):
            item_schema = self.resolve(shape.element)
            properties = item_schema.get("properties") or {}
            fields = {}
            for key in shape.keys:
                if key in item:
                    fields[key] = item[key]
                elif "default" in (properties.get(key) or {}):
                    fields[key] = properties[key]["default"]
                elif key in _KEY_DEFAULTS:
                    fields[key] = _KEY_DEFAULTS[key]
            if fields:
                return key_element(fields)
        return f"i:{index}"

    # -- the field set of a value (ToFieldSet) ---------------------------------------------

    def field_set(self, value: Any, node: dict[str, Any] | None, path: Path = ()) -> FieldSet:
        """The fields a configuration sets: leaves, list items, map entries, empty maps."""
        found: FieldSet = set()
        self._field_set(value, node, path, found)
        return found

    def _field_set(self, value: Any, node: dict[str, Any] | None, path: Path,
                   found: FieldSet) -> None:
        shape = self.shape(node, value)
        if shape.kind == SCALAR or shape.atomic or value is None:
            if path:
                found.add(path)
            return
        if shape.kind == LIST:
            for index, item in enumerate(value if isinstance(value, list) else ()):
                here = (*path, self.item_element(shape, item, index))
                self._field_set(item, shape.element, here, found)
                found.add(here)
            return
        if not isinstance(value, dict):
            found.add(path)
            return
        for name, item in value.items():
            here = (*path, "f:" + name)
            self._field_set(item, self.child(shape, name), here, found)
            if item is None or item == {} or name not in shape.fields:
                found.add(here)

    # -- merging a configuration into an object (Merge) ------------------------------------

    def merge(self, lhs: Any, rhs: Any, node: dict[str, Any] | None) -> Any:
        """`lhs` with `rhs` merged in: rhs wins at leaves, maps and keyed lists merge."""
        if rhs is None:
            return lhs
        if lhs is None:
            return rhs
        shape = self.shape(node, rhs)
        if shape.kind == SCALAR or shape.atomic:
            return rhs
        if shape.kind == LIST and isinstance(lhs, list) and isinstance(rhs, list):
            return self._merge_list(lhs, rhs, shape)
        if isinstance(lhs, dict) and isinstance(rhs, dict):
            out = dict(lhs)
            for name, item in rhs.items():
                out[name] = self.merge(lhs.get(name), item, self.child(shape, name))
            return out
        return rhs

    def _merge_list(self, lhs: list[Any], rhs: list[Any], shape: Shape) -> list[Any]:
        """Items by path element in structured-merge-diff's order: the live order, with
        the items the configuration shares in the configuration's order and its new items
        after the shared item they follow."""
        left = {self.item_element(shape, item, i): item for i, item in enumerate(lhs)}
        right = {self.item_element(shape, item, i): item for i, item in enumerate(rhs)}
        lkeys, rkeys = list(left), list(right)
        shared = [key for key in rkeys if key in left]
        out: list[Any] = []
        done: set[str] = set()
        li = ri = 0
        next_shared = shared.pop(0) if shared else None
        while li < len(lkeys) or ri < len(rkeys):
            if li < len(lkeys) and ri < len(rkeys):
                key = lkeys[li]
                if key == rkeys[ri]:
                    done.add(key)
                    out.append(self.merge(left[key], right[key], shape.element))
                    li, ri = li + 1, ri + 1
                    next_shared = shared.pop(0) if shared else None
                    continue
                if key in right and next_shared is not None and next_shared != key:
                    li += 1
                    continue
            if li < len(lkeys):
                key = lkeys[li]
                if key not in right:
                    out.append(left[key])
                    li += 1
                    continue
                if key in done:
                    li += 1
            if ri < len(rkeys):
                key = rkeys[ri]
                done.add(key)
                out.append(self.merge(left.get(key), right[key], shape.element))
                ri += 1
                if next_shared is not None and next_shared == key:
                    next_shared = shared.pop(0) if shared else None
        return out

    # -- what changed (Compare) ------------------------------------------------------------

    def compare(self, lhs: Any, rhs: Any, node: dict[str, Any] | None) -> Comparison:
        """The paths added, modified and removed from `lhs` to `rhs`."""
        result = Comparison()
        self._compare(lhs, rhs, node, (), result)
        return result

    def _compare(self, lhs: Any, rhs: Any, node: dict[str, Any] | None, path: Path,
                 out: Comparison) -> None:
        shape = self.shape(node, rhs if rhs is not None else lhs)
        empty = _empty(lhs) and _empty(rhs)
        if shape.kind == SCALAR or shape.atomic or empty or \
                not isinstance(lhs if lhs is not None else rhs, (dict, list)):
            if lhs is None:
                out.added.add(path)
            elif rhs is None:
                out.removed.add(path)
            elif lhs != rhs:
                out.modified.add(path)
            return
        if shape.kind == LIST:
            left = {self.item_element(shape, item, i): item for i, item in enumerate(lhs or ())}
            right = {self.item_element(shape, item, i): item
                     for i, item in enumerate(rhs or ())}
            for key in {**left, **right}:
                self._compare(left.get(key), right.get(key), shape.element, (*path, key), out)
        else:
            left, right = lhs or {}, rhs or {}
            for name in {**left, **right}:
                self._compare(left.get(name), right.get(name), self.child(shape, name),
                              (*path, "f:" + name), out)
        if path and lhs is None and not (shape.kind == STRUCT and rhs):
            out.added.add(path)  # (a struct's own path: Go's zero value had it already)
        elif path and rhs is None:
            out.removed.add(path)

    # -- removing paths (RemoveItems) ------------------------------------------------------

    def remove(self, value: Any, paths: FieldSet, node: dict[str, Any] | None) -> Any:
        """`value` without the paths of `paths` (a map or list left empty goes too)."""
        shape = self.shape(node, value)
        if shape.kind == SCALAR:
            return value
        if shape.atomic:
            return None
        if shape.kind == LIST and isinstance(value, list):
            return self._remove_items(value, paths, shape)
        if not isinstance(value, dict):
            return value
        out = {}
        for name, item in value.items():
            element = "f:" + name
            if (element,) in paths:
                continue
            below = _below(paths, element)
            kept = self.remove(item, below, self.child(shape, name)) if below else item
            if kept is not None:
                out[name] = kept
        return out or None

    def _remove_items(self, value: list[Any], paths: FieldSet, shape: Shape) -> Any:
        items = []
        for index, item in enumerate(value):
            element = self.item_element(shape, item, index)
            if (element,) in paths:
                continue
            below = _below(paths, element)
            items.append(self.remove(item, below, shape.element) if below else item)
        return items or None

    def named_members(self, paths: FieldSet, node: dict[str, Any] | None) -> FieldSet:
        """`paths` with every struct field above one of them made a member."""
        found = set(paths)
        for path in paths:
            current = node
            for end, element in enumerate(path[:-1], start=1):
                shape = self.shape(current)
                name = element[2:]
                if element.startswith("f:") and name in shape.fields:
                    found.add(path[:end])
                current = self.child(shape, name) if element.startswith("f:") else \
                    shape.element
        return found


@dataclass
class Comparison:
    """What changed from one object to another, by path."""

    added: FieldSet = field(default_factory=set)
    modified: FieldSet = field(default_factory=set)
    removed: FieldSet = field(default_factory=set)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (dict, list)) and not value)


def _below(paths: FieldSet, element: str) -> FieldSet:
    return {path[1:] for path in paths if len(path) > 1 and path[0] == element}
