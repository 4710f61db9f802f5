"""Label and field selectors, parsed and matched with the real API server's semantics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gitops_lifecycle.simulation.kubeapi.errors import ApiError, bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s!=]+)\s*(==|!=|=)\s*([^\s!=]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b` is two requirements)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _label_requirement(text: str) -> Matcher:
    if match := _SET.match(text):
        key, operator, values = match.group(1), match.group(2), match.group(3)
        allowed = {value.strip() for value in values.split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    if match := _EQUALITY.match(text):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(text):
        negated, key = match.group(1) == "!", match.group(2)
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {text.strip()!r}")


def label_matcher(selector: str | None) -> Matcher | None:
    """A predicate on an object's labels, or None when the selector selects everything."""
    if not selector or not selector.strip():
        return None
    requirements = [_label_requirement(part) for part in _split(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string a field selector compares: booleans as `true`/`false`, absent as empty."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if path == "source" and isinstance(value, dict):
        value = value.get("component")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def field_matcher(
    selector: str | None, supported: frozenset[str],
    path_of: Callable[[str], str] | None = None,
) -> Matcher | None:
    """A predicate on an object's fields; an unsupported field label is a 400, as for real.

    `path_of` turns a field label into where the stored object keeps it, if elsewhere.
    """
    if not selector or not selector.strip():
        return None
    checks: list[tuple[str, bool, str]] = []
    for part in _split(selector):
        match = _EQUALITY.match(part)
        if not match:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        field, operator, value = match.groups()
        if field not in supported:
            raise ApiError(400, "BadRequest", f"field label not supported: {field}")
        checks.append((path_of(field) if path_of else field, operator != "!=", value))

    def matches(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, field) == value) == equal for field, equal, value in checks)

    return matches


def combine(*matchers: Matcher | None) -> Matcher | None:
    """One predicate that requires all the given ones, or None if there are none."""
    present = [matcher for matcher in matchers if matcher is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return lambda obj: all(matcher(obj) for matcher in present)
