"""What can go wrong talking to Authentik, by what the caller should do about it."""

from __future__ import annotations

from typing import Any


class AuthentikError(Exception):
    """Anything that went wrong talking to the Authentik API."""


class UnavailableError(AuthentikError):
    """No usable answer: connection refused or reset, a timeout, a 5xx, or the circuit is open.

    Transient: the same request may succeed later.
    """


class ForbiddenError(AuthentikError):
    """403: the token is missing, wrong, revoked, or lacks a permission."""


class NotFoundError(AuthentikError):
    """404: no such object."""


class RejectedError(AuthentikError):
    """4xx other than 403/404: the request itself is wrong; `fields` says which fields."""

    def __init__(self, status: int, fields: dict[str, list[str]], text: str = "") -> None:
        self.status = status
        self.fields = fields
        super().__init__(describe(fields) or text or f"HTTP {status}")


class IncompleteListError(AuthentikError):
    """A listing stopped before its last page: its items must not be taken as all there is."""


def field_errors(body: Any) -> dict[str, list[str]]:
    """Authentik's 400 body (`{"field": ["message", …]}`) as field → messages."""
    if not isinstance(body, dict):
        return {}
    errors: dict[str, list[str]] = {}
    for key, value in body.items():
        if isinstance(value, list):
            errors[str(key)] = [_text(item) for item in value]
        elif isinstance(value, dict):
            for inner, messages in field_errors(value).items():
                errors[f"{key}.{inner}"] = messages
        else:
            errors[str(key)] = [_text(value)]
    return errors


def _text(item: Any) -> str:
    if isinstance(item, dict):
        return "; ".join(f"{k}: {v}" for k, v in item.items())
    return str(item)


def describe(fields: dict[str, list[str]]) -> str:
    """`field: message; other: message`, as shown in a ProxyConfig condition."""
    return "; ".join(f"{key}: {' '.join(messages)}" for key, messages in fields.items())
