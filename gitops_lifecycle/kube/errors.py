"""What can go wrong talking to the API server, by what the caller should do about it."""

from __future__ import annotations

import os


class KubeError(Exception):
    """Anything that went wrong talking to the Kubernetes API server."""


class APIConnectionError(KubeError):
    """The request did not get an HTTP answer (refused, reset, timed out, TLS)."""

    @classmethod
    def of(cls, what: str, exc: BaseException) -> APIConnectionError:
        """`what` failed because of the transport error `exc`, said in words."""
        return cls(f"{what}: {in_words(exc)}")


def in_words(exc: BaseException) -> str:
    """A transport error as a person would say it, not as its repr."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    os_error = getattr(exc, "os_error", None)
    host, port = getattr(exc, "host", None), getattr(exc, "port", None)
    if host is not None and isinstance(os_error, OSError):
        reason = os.strerror(os_error.errno) if os_error.errno else \
            str(os_error) or type(os_error).__name__
        return f"cannot connect to {host}:{port}: {reason}"
    return str(exc) or type(exc).__name__


class APIError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str, body: bytes = b"") -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class ClientError(APIError):
    """A 4xx answer: the request itself is the problem."""


class UnauthorizedError(ClientError):
    """401: the credentials are missing, expired or wrong."""


class ForbiddenError(ClientError):
    """403: RBAC does not allow this."""


class NotFoundError(ClientError):
    """404: the object (or the resource type) does not exist."""


class ConflictError(ClientError):
    """409: AlreadyExists, a stale resourceVersion or a failed precondition."""


class GoneError(ClientError):
    """410: the resourceVersion or continue token is too old; list again."""


class TooManyRequestsError(ClientError):
    """429: throttled; try again after `retry_after` seconds."""

    def __init__(self, status: int, reason: str, message: str, body: bytes = b"", *,
                 retry_after: float | None = None) -> None:
        super().__init__(status, reason, message, body)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed; the same request may succeed later."""


_BY_STATUS: dict[int, type[ClientError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
}


def for_status(status: int, reason: str, message: str, body: bytes = b"", *,
               retry_after: float | None = None) -> APIError:
    """The most specific error for an HTTP status."""
    if status == 429:
        return TooManyRequestsError(status, reason, message, body, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, reason, message, body)
    if status in _BY_STATUS:
        return _BY_STATUS[status](status, reason, message, body)
    if 400 <= status < 500:
        return ClientError(status, reason, message, body)
    return APIError(status, reason, message, body)


class ConfigurationError(KubeError):
    """No usable cluster configuration (no kubeconfig, unknown context, bad certificate)."""


class InvalidResponseError(KubeError):
    """The API server answered with something that is not the JSON we asked for."""
