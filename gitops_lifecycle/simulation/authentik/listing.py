"""LIST semantics: django-filter filters, `search`, `ordering` and page-number pagination.

As in Authentik, a query parameter that is not a declared filter is ignored — so
`/providers/proxy/?name=x` lists every provider (the filter is `name__iexact`) — and
`page_size` is capped at 100 (Authentik 2025.12 and later) without an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_lifecycle.simulation.authentik.errors import AuthentikError
from gitops_lifecycle.simulation.authentik.state import Obj

MAX_PAGE_SIZE = 100
Filter = Callable[[Obj, str], bool]


def iexact(name: str) -> Filter:
    """Case-insensitive equality on a field (booleans compare as `true`/`false`)."""
    def match(obj: Obj, value: str) -> bool:
        actual = obj.get(name)
        if isinstance(actual, bool):
            actual = str(actual).lower()
        return str(actual if actual is not None else "").lower() == value.lower()
    return match


def icontains(name: str) -> Filter:
    """Case-insensitive substring on a field."""
    def match(obj: Obj, value: str) -> bool:
        return value.lower() in str(obj.get(name) or "").lower()
    return match


def exact(name: str) -> Filter:
    """Equality on a field."""
    def match(obj: Obj, value: str) -> bool:
        return str(obj.get(name) if obj.get(name) is not None else "") == value
    return match


def isnull(test: Callable[[Obj], bool]) -> Filter:
    """A boolean filter: `true` keeps the objects for which `test` holds."""
    def match(obj: Obj, value: str) -> bool:
        wanted = value.lower() in ("true", "1")
        return test(obj) == wanted
    return match


@dataclass(frozen=True)
class Listing:
    """What one list endpoint accepts: its filters, search fields and default order."""

    filters: Mapping[str, Filter]
    search: tuple[str, ...] = ("name",)
    ordering: tuple[str, ...] = ("name",)
    default_page_size: int = 100
    extra: Mapping[str, Filter] = field(default_factory=dict)


def page(listing: Listing, objects: list[Obj], query: Mapping[str, str],
         present: Callable[[Obj], dict[str, Any]]) -> dict[str, Any]:
    """The answer to a LIST: filtered, searched, ordered, one page of it."""
    selected = [obj for obj in objects if _matches(listing, obj, query)]
    selected = _ordered(selected, query.get("ordering"), listing.ordering)
    size = min(_positive(query.get("page_size"), listing.default_page_size), MAX_PAGE_SIZE)
    number = _page_number(query.get("page"))
    pages = max(1, math.ceil(len(selected) / size))
    if number > pages:
        raise AuthentikError(404, {"detail": "Invalid page."})
    chunk = selected[(number - 1) * size:number * size]
    start = (number - 1) * size + 1 if selected else 0
    return {
        "pagination": {
            "next": number + 1 if number < pages else 0,
            "previous": number - 1 if number > 1 else 0,
            "count": len(selected),
            "current": number,
            "total_pages": pages,
            "start_index": start,
            "end_index": start + len(chunk) - 1 if chunk else 0,
        },
        "results": [present(obj) for obj in chunk],
        "autocomplete": {},
    }


def _matches(listing: Listing, obj: Obj, query: Mapping[str, str]) -> bool:
    for name, value in query.items():
        test = listing.filters.get(name) or listing.extra.get(name)
        if test is not None and value != "" and not test(obj, value):
            return False
    term = query.get("search", "").lower()
    return not term or any(term in str(obj.get(f) or "").lower() for f in listing.search)


def _ordered(objects: list[Obj], ordering: str | None, default: tuple[str, ...]) -> list[Obj]:
    keys = [k.strip() for k in ordering.split(",") if k.strip()] if ordering else list(default)
    for key in reversed(keys):
        name = key.lstrip("-")
        objects = sorted(objects, key=lambda o, n=name: _sort_key(o.get(n)),  # type: ignore[misc]
                         reverse=key.startswith("-"))
    return objects


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value if isinstance(value, int) else str(value))


def _positive(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def _page_number(raw: str | None) -> int:
    if raw is None:
        return 1
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        raise AuthentikError(404, {"detail": "Invalid page."})
    return number
