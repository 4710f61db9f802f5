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

from gitops_lifecycle.simulation.kubeapi import conversion, errors
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType
from gitops_lifecycle.simulation.kubeapi.selectors import Matcher
from gitops_lifecycle.simulation.kubeapi.store import Obj, Store
from gitops_lifecycle.simulation.kubeapi.watching import with_kind

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
        return store.rv, ""  # "0": any version will do, served whole from the watch cache
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
    # Exact, or a limit without a match: served as of that version (legacy "Exact");
    # NotOlderThan, or no limit: served at the latest version.
    if request.resource_version_match == "Exact" or (
            not request.resource_version_match and request.limit):
        if wanted < store.floor:
            raise errors.gone(f"too old resource version: {wanted} ({store.floor})")
        return wanted, ""
    return store.rv, ""


@dataclass(frozen=True)
class Page:
    """One chunk of a list: the objects, the list's resourceVersion and the next token."""

    rt: ResourceType
    rv: int
    items: list[tuple[str, Obj]]
    token: str | None
    remaining: int | None = None

    def metadata(self) -> dict[str, Any]:
        """The list's `metadata`."""
        metadata: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if self.token:
            metadata["continue"] = self.token
            if self.remaining is not None:
                metadata["remainingItemCount"] = self.remaining
        return metadata

    def objects(self) -> list[Obj]:
        """The items as stored (no kind)."""
        return [obj for _, obj in self.items]

    def as_dict(self) -> dict[str, Any]:
        """The list response as data."""
        items = [conversion.view(self.rt, item) for item in self.objects()]
        if not self.rt.builtin:
            items = [{"apiVersion": self.rt.api_version, "kind": self.rt.kind, **item}
                     for item in items]
        return {"kind": self.rt.list_kind, "apiVersion": self.rt.api_version,
                "metadata": self.metadata(), "items": items}

    def encode(self, store: Store) -> bytes:
        """The list response as JSON, joined from each object's cached JSON."""
        rt, key = self.rt, self.rt.store_key
        if conversion.converts(rt):
            return msgspec.json.encode(self.as_dict())
        parts = [store.encoded(key, item_key, obj) for item_key, obj in self.items]
        if not rt.builtin:
            parts = [with_kind(rt, part) for part in parts]
        head = b'{"kind":"%s","apiVersion":"%s","metadata":%s,"items":[' % (
            rt.list_kind.encode(), rt.api_version.encode(),
            msgspec.json.encode(self.metadata()))
        return head + b",".join(parts) + b"]}"


def list_objects(store: Store, rt: ResourceType, request: ListRequest) -> Page:
    """One chunk of the list `request` asks for."""
    rv, start = _start_at(store, request)
    prefix = f"{request.namespace}/" if rt.namespaced and request.namespace else ""
    match, limit = request.match, request.limit
    if request.resource_version == "0" and not request.continue_token:
        limit = 0  # the watch cache answers whole lists
    items: list[tuple[str, Obj]] = []
    token = None
    remaining = None
    objects = store.iterate(rt.store_key, start=start, rv=rv, prefix=prefix)
    for key, obj in objects:
        if limit and len(items) == limit:
            token = encode_token(rv, items[-1][0] + "\x00")
            if match is None:  # with a selector the server cannot know, and omits it
                remaining = 1 + sum(1 for _ in objects)
            break
        if match is None or match(obj):
            items.append((key, obj))
    return Page(rt, rv, items, token, remaining)
