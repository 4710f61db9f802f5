"""API errors of the simulated cluster, answered as `Status` objects like the real API server."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the simulated API server refuses; `status()` is the body it answers with."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        continue_token: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.continue_token = continue_token

    def status(self) -> dict[str, Any]:
        """The `Status` object of this error."""
        metadata = {"continue": self.continue_token} if self.continue_token else {}
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(name: str, group: str, plural: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def qualified(plural: str, group: str) -> str:
    """`jobs.batch`, or `pods` for the core group, as the real server names resources."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    """404 for an object that does not exist."""
    return ApiError(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found',
        details=_details(name, group, plural),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """409 for a create whose name is taken."""
    return ApiError(
        409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists',
        details=_details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    """409 for a stale resourceVersion or a failed precondition."""
    return ApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        details=_details(name, group, plural),
    )


def invalid(kind: str, group: str, name: str, field: str, message: str) -> ApiError:
    """422 for an object that fails validation."""
    cause = {"reason": "FieldValueForbidden", "message": message, "field": field}
    details = {"name": name, "group": group, "kind": kind, "causes": [cause]}
    return ApiError(
        422, "Invalid", f'{kind} "{name}" is invalid: {field}: {message}', details=details
    )


def cause(reason: str, message: str, field: str) -> dict[str, str]:
    """One of `details.causes`: a field and what is wrong with it (`field.Error`)."""
    return {"reason": reason, "message": message, "field": field}


def invalid_causes(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 listing every field that failed validation, as `errors.NewInvalid` does."""
    parts = [f"{c['field']}: {c['message']}" for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"name": name, "group": group, "kind": kind, "causes": causes}
    if not group:
        del details["group"]
    return ApiError(422, "Invalid", f'{qualified(kind, group)} "{name}" is invalid: {summary}',
                    details=details)


def bad_request(message: str) -> ApiError:
    """400 for a malformed request."""
    return ApiError(400, "BadRequest", message)


def gone(message: str, *, continue_token: str | None = None) -> ApiError:
    """410 for a resourceVersion or continue token older than what the server retains."""
    return ApiError(410, "Expired", message, continue_token=continue_token)


def method_not_allowed(message: str) -> ApiError:
    """405 for a verb a resource does not support."""
    return ApiError(405, "MethodNotAllowed", message)
