"""Sets of field paths and their `FieldsV1` form, as `metadata.managedFields` carries them.

A path is a tuple of path elements written as FieldsV1 writes them (sigs.k8s.io/
structured-merge-diff `fieldpath`): `f:name` a field, `k:{"name":"web"}` an item of a list
keyed by its map keys, `v:"x"` an item of a set, `i:3` an item by index. In FieldsV1 a set is
a tree of these; `".": {}` marks a path that is itself a member and has members below it.
"""

from __future__ import annotations

import json
from typing import Any

Path = tuple[str, ...]
FieldSet = set[Path]


def encode(paths: FieldSet) -> dict[str, Any]:
    """The FieldsV1 tree of a set of paths."""
    tree: dict[str, Any] = {}
    members: set[Path] = set(paths)
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return _mark(tree, (), members)


def _mark(node: dict[str, Any], here: Path, members: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if here in members and node and here:
        out["."] = {}
    for element in sorted(node):
        out[element] = _mark(node[element], (*here, element), members)
    return out


def decode(tree: Any) -> FieldSet:
    """The paths of a FieldsV1 tree (an unreadable tree is an empty set)."""
    found: FieldSet = set()
    if isinstance(tree, dict):
        _collect(tree, (), found)
    return found


def _collect(node: dict[str, Any], here: Path, found: FieldSet) -> None:
    if here and (not node or "." in node):
        found.add(here)
    for element, child in node.items():
        if element != "." and isinstance(child, dict):
            _collect(child, (*here, element), found)


def key_element(fields: dict[str, Any]) -> str:
    """The path element of a list item with these key fields (sorted by name)."""
    return "k:" + json.dumps(dict(sorted(fields.items())), separators=(",", ":"),
                             ensure_ascii=False)


def value_element(value: Any) -> str:
    """The path element of an item of a set."""
    return "v:" + json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def text(path: Path) -> str:
    """A path as conflicts name it: `.spec.containers[name="web"].image`."""
    out = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            fields = json.loads(rest)
            out.append("[" + ",".join(f"{name}={json.dumps(value)}"
                                      for name, value in fields.items()) + "]")
        elif kind == "v":
            out.append(f"[={rest}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


def prefixes(paths: FieldSet) -> FieldSet:
    """Every non-empty prefix of every path (each path included)."""
    found: FieldSet = set()
    for path in paths:
        for end in range(1, len(path) + 1):
            found.add(path[:end])
    return found


def under(paths: FieldSet, head: Path) -> bool:
    """Whether any path lies strictly below `head`."""
    size = len(head)
    return any(len(path) > size and path[:size] == head for path in paths)


def without(paths: FieldSet, heads: FieldSet) -> FieldSet:
    """The paths that are neither one of `heads` nor below one (a recursive difference)."""
    return {path for path in paths
            if not any(path[:end] in heads for end in range(1, len(path) + 1))}
