"""LIST: chunks with `limit` and `continue`, selectors, and resourceVersion semantics.

A continue token carries the list's resourceVersion and the key to start after, as the real
server's does; later chunks show the objects as they were at that resourceVersion, rebuilt
from the change history. A token older than the history (or expired on purpose) is a 410.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec

from gitops_lifecycle.simulation import errors
from gitops_lifecycle.simulation.resources import ResourceType
from gitops_lifecycle.simulation.selectors import Matcher
from gitops_lifecycle.simulation.store import Obj, Store, object_key

EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def encode_token(rv: int, start: str) -> str:
    """A continue token in the real server's format (base64 of a small JSON object)."""
    raw = msgspec.json.encode({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    """The resourceVersion and start key of a continue token; 400 if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = msgspec.json.decode(raw)
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


@dataclass(frozen=True)
class ListRequest:
    """What a LIST asks for."""

    namespace: str | None = None
    match: Matcher | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None


def _start_at(store: Store, request: ListRequest) -> tuple[int, str]:
    if request.continue_token:
        if request.resource_version not in (None, ""):
            raise errors.bad_request(
                "specifying resource version is not allowed when using continue")
        rv, start = decode_token(request.continue_token)
        if rv <= store.expired_tokens_through or rv < store.floor:
            raise errors.gone(EXPIRED_CONTINUE, continue_token=encode_token(store.rv, start))
        return rv, start
    text = request.resource_version
    if text in (None, "", "0"):
        return store.rv, ""
    try:
        wanted = int(text)
    except ValueError as exc:
        raise errors.bad_request(f"invalid resource version {text!r}") from exc
    if wanted > store.rv:
        raise errors.ApiError(
            504, "Timeout", f"Too large resource version: {wanted}, current: {store.rv}",
            details={"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": 1},
        )
    if request.resource_version_match == "Exact":
        if wanted < store.floor:
            raise errors.gone(f"too old resource version: {wanted} ({store.floor})")
        return wanted, ""
    return store.rv, ""


def list_objects(store: Store, rt: ResourceType, request: ListRequest) -> dict[str, Any]:
    """The list response: items, `metadata.resourceVersion` and `metadata.continue`."""
    rv, start = _start_at(store, request)
    prefix = f"{request.namespace}/" if rt.namespaced and request.namespace else ""
    objects = store.iterate(rt.store_key, start=start, rv=rv, prefix=prefix)
    match, limit = request.match, request.limit
    items: list[Obj] = []
    token = None
    for obj in objects:
        if limit and len(items) == limit:
            last = items[-1]["metadata"]
            token = encode_token(rv, object_key(last.get("namespace"), last["name"]) + "\x00")
            break
        if match is None or match(obj):
            items.append(obj)
    if not rt.builtin:
        items = [{"apiVersion": rt.api_version, "kind": rt.kind, **item} for item in items]
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if token:
        metadata["continue"] = token
    return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata,
            "items": items}
