"""Field-level checks that Authentik's serializers make, whichever schema check runs before.

Each check returns the message for one field or None; `collect` gathers them per field, as
Django REST framework reports every field's problems together before object-level checks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from gitops_lifecycle.simulation.authentik.errors import (
    NOT_BLANK,
    NOT_NULL,
    REQUIRED,
    FieldErrors,
)

Check = Callable[[Any], str | None]
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


def required(body: dict[str, Any], names: Iterable[str], errors: FieldErrors) -> None:
    """Add "This field is required." for each name the body lacks."""
    for name in names:
        if name not in body and name not in errors:
            errors[name] = [REQUIRED]


def trimmed(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """`body` with the strings of `names` stripped, as DRF's `CharField` (and its subclasses:
    slug, URL) does before validating (`trim_whitespace=True` by default)."""
    return {key: value.strip() if key in names and isinstance(value, str) else value
            for key, value in body.items()}


def collect(body: dict[str, Any], checks: dict[str, Check], errors: FieldErrors) -> None:
    """Run the check of every field present in the body."""
    for name, check in checks.items():
        if name in body and name not in errors:
            message = check(body[name])
            if message is not None:
                errors[name] = [message]


def text(*, blank: bool = True, null: bool = False) -> Check:
    """A string field."""
    def check(value: Any) -> str | None:
        if value is None:
            return None if null else NOT_NULL
        if not isinstance(value, str):
            return "Not a valid string."
        return NOT_BLANK if not blank and not value.strip() else None
    return check


def boolean(value: Any) -> str | None:
    """A boolean field."""
    if value is None:
        return NOT_NULL
    return None if isinstance(value, bool) else "Must be a valid boolean."


def choice(*choices: str) -> Check:
    """A field with a fixed set of values."""
    def check(value: Any) -> str | None:
        if value is None:
            return NOT_NULL
        return None if value in choices else f'"{value}" is not a valid choice.'
    return check


def url(*, blank: bool) -> Check:
    """An http(s) URL, host without a domain allowed (`DomainlessURLValidator`)."""
    def check(value: Any) -> str | None:
        message = text(blank=blank)(value)
        if message is not None or value == "":
            return message
        parts = urlsplit(value)
        return None if parts.scheme in ("http", "https") and parts.netloc else \
            "Enter a valid URL."
    return check


def slug(value: Any) -> str | None:
    """A slug: letters, digits, underscores and hyphens."""
    message = text(blank=False)(value)
    if message is not None:
        return message
    return None if _SLUG.match(value) else (
        "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.")


def is_uuid(value: Any) -> bool:
    """Whether a value is a UUID in text form."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)
