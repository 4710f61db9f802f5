"""Error answers shaped like Django REST framework's, as Authentik sends them."""

from __future__ import annotations

from typing import Any

FieldErrors = dict[str, list[str]]


class AuthentikError(Exception):
    """An answer other than success: the HTTP status and the JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def invalid(errors: FieldErrors) -> AuthentikError:
    """400 with field names mapped to lists of messages."""
    return AuthentikError(400, {name: list(messages) for name, messages in errors.items()})


def not_found(model: str) -> AuthentikError:
    """404 as `get_object_or_404` words it."""
    return AuthentikError(404, {"detail": f"No {model} matches the given query."})


def forbidden(detail: str) -> AuthentikError:
    """403: Authentik's token authentication has no challenge, so a bad token is 403, not 401."""
    return AuthentikError(403, {"detail": detail})


REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."


def missing_pk(value: Any) -> str:
    """The message of a related field naming an object that does not exist."""
    return f'Invalid pk "{value}" - object does not exist.'


def taken(model: str, field: str) -> str:
    """The message of a unique field whose value is in use."""
    return f"{model} with this {field} already exists."
