"""PATCH bodies: JSON merge patch, JSON patch and strategic merge patch (the common cases)."""

from __future__ import annotations

from typing import Any

import jsonpatch

from gitops_lifecycle.simulation.kubeapi.errors import ApiError, bad_request

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"

# List fields that strategic merge patch merges by a key instead of replacing (from the
# `patchMergeKey` tags of the Kubernetes API types); None merges primitives as a set.
_MERGE_KEYS: dict[str, str | None] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
    "ports": "containerPort", "conditions": "type", "ownerReferences": "uid",
    "finalizers": None, "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
}


def _merge_key(field: str, items: list[Any]) -> str | None:
    """A container's `ports` merge by containerPort, a Service's by port."""
    if field == "ports" and not any(isinstance(item, dict) and "containerPort" in item
                                    for item in items):
        return "port"
    return _MERGE_KEYS[field]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_list(target: list[Any], patch: list[Any], key: str | None) -> list[Any]:
    if key is None:
        return target + [item for item in patch if item not in target]
    result = list(target)
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"strategic merge patch: expected a map in list keyed by {key}")
        index = next((i for i, old in enumerate(result) if old.get(key) == item.get(key)), None)
        directive = item.get("$patch")
        if directive == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge patch for maps and the keyed lists of the Kubernetes API types."""
    if not isinstance(patch, dict):
        return patch
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.partition("/")[2]
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _MERGE_KEYS:
            current = list(result.get(key) or [])
            result[key] = _merge_list(current, value, _merge_key(key, current + value))
        else:
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def apply(obj: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """The object after the patch; a patch that cannot apply is the real server's 4xx."""
    kind = content_type.split(";", maxsplit=1)[0].strip()
    if kind == MERGE:
        result = merge_patch(obj, patch)
    elif kind == STRATEGIC:
        result = strategic_merge(obj, patch)
    elif kind == JSON:
        try:
            result = jsonpatch.apply_patch(obj, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(422, "Invalid", f"the server rejected our request: {exc}") from exc
    else:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an "
                       f"unknown format - accepted media types include: {JSON}, {MERGE}, "
                       f"{STRATEGIC}")
    if not isinstance(result, dict):
        raise bad_request("the patch must produce an object")
    return result
