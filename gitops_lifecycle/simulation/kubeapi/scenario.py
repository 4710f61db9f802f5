"""Seeding the simulated cluster from YAML, with times written relative to now.

Format (one YAML file; either several documents, each an object, or one document with an
`objects:` list; a `kind: List` with `items:` also works):

    objects:
      - apiVersion: batch/v1
        kind: Job
        metadata: {name: nightly-backup, namespace: ops}
        age: 3h                      # creationTimestamp = now - 3h
        status:
          completionTime: now-2h     # any string `now`, `now-<duration>`, `now+<duration>`
          conditions:
            - {type: Complete, status: "True", age: 2h}   # lastTransitionTime = now - 2h
      - apiVersion: v1
        kind: Pod
        metadata:
          name: worker-0
          namespace: ops
          ownerReferences: [{apiVersion: batch/v1, kind: Job, name: nightly-backup}]

Durations are the settings' (`30s`, `90m`, `2h`, `7d`). An ownerReference without a `uid`
is resolved by kind and name in the object's namespace among objects seeded before it.
Objects are restored as written, status and deletionTimestamp included, like a backup.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.durations import parse_duration

_RELATIVE = re.compile(r"^now\s*(?:([+-])\s*(\S+))?$")
_MICRO_FIELDS = frozenset({"eventTime", "renewTime", "acquireTime", "lastObservedTime"})
_CONDITION_TIMES = ("lastTransitionTime", "lastHeartbeatTime", "lastProbeTime", "lastUpdateTime")


class ScenarioError(ValueError):
    """A scenario file that cannot be loaded."""


def documents(source: str | Path) -> list[dict[str, Any]]:
    """The object documents of a scenario file or text."""
    text = Path(source).read_text() if isinstance(source, Path) or (
        "\n" not in source and Path(source).exists()) else str(source)
    try:
        loaded = [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario is not valid YAML: {exc}") from exc
    objects: list[dict[str, Any]] = []
    for doc in loaded:
        if not isinstance(doc, dict):
            raise ScenarioError("a scenario document must be a mapping")
        if "objects" in doc or doc.get("kind") == "List":
            objects.extend(doc.get("objects") or doc.get("items") or [])
        else:
            objects.append(doc)
    return objects


def resolve_times(value: Any, now: float, key: str = "") -> Any:
    """Replace `now-2h` strings and `age:` keys with timestamps relative to `now`."""
    if isinstance(value, str):
        match = _RELATIVE.match(value.strip())
        if not match:
            return value
        sign, amount = match.groups()
        offset = parse_duration(amount) if amount else 0.0
        return format_time(now - offset if sign == "-" else now + offset,
                           micro=key in _MICRO_FIELDS)
    if isinstance(value, list):
        return [_condition(resolve_times(v, now), now) if key == "conditions" else
                resolve_times(v, now) for v in value]
    if isinstance(value, dict):
        return {k: resolve_times(v, now, k) for k, v in value.items()}
    return value


def _condition(condition: Any, now: float) -> Any:
    if not isinstance(condition, dict) or "age" not in condition:
        return condition
    condition = dict(condition)
    when = format_time(now - parse_duration(condition.pop("age")))
    condition.setdefault("lastTransitionTime", when)
    for field in _CONDITION_TIMES[1:]:
        if field in condition and condition[field] is None:
            condition[field] = when
    return condition


def prepare(obj: dict[str, Any], now: float) -> dict[str, Any]:
    """One scenario object as it is to be stored: ages turned into timestamps."""
    obj = dict(obj)
    age = obj.pop("age", None)
    obj = resolve_times(obj, now)
    meta = obj.setdefault("metadata", {})
    if age is not None:
        meta["creationTimestamp"] = format_time(now - parse_duration(age))
    return obj
