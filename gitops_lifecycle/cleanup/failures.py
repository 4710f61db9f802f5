"""What a failed API call on a cleanup path is called, counted as, and when to try again.

Every API error a controller meets is transient until proven otherwise: it is counted in
`gitops_cleanup_errors_total{policy,reason}`, logged once per streak, and retried by the
reconcile queue with per-key backoff (never sooner than a 429's Retry-After).
"""

from __future__ import annotations

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.kube.errors import (
    ClientError,
    ForbiddenError,
    InvalidResponseError,
    KubeError,
    ServerError,
    TooManyRequestsError,
)

log = logs.get("cleanup")


_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (TooManyRequestsError, "throttled"),
    (ServerError, "server_error"),
    (ForbiddenError, "forbidden"),
    (ClientError, "client_error"),
    (InvalidResponseError, "invalid_response"),
    (TimeoutError, "timeout"),
)


def reason(exc: BaseException) -> str:
    """The `reason` label of an error (one of `metrics.CLEANUP_ERROR_REASONS`)."""
    for kind, name in _REASONS:
        if isinstance(exc, kind):
            return name
    return "unreachable"  # connection refused or reset, open circuit breaker


def retry_after(exc: BaseException) -> float:
    """The least delay the server asked for (a 429's Retry-After), else 0."""
    if isinstance(exc, TooManyRequestsError) and exc.retry_after:
        return exc.retry_after
    return 0.0


def count(policy: str, exc: BaseException, *, first: bool = True, **context: object) -> None:
    """Count one failure of `policy`; log it if it starts a streak (else only at debug)."""
    cause = reason(exc)
    metrics.CLEANUP_ERRORS.labels(policy=policy, reason=cause).inc()
    describe = log.warning if first else log.debug
    describe("cleanup call failed; it will be retried", policy=policy, reason=cause,
             error=str(exc), **context)


TRANSIENT = (KubeError, TimeoutError)
"""What a controller retries rather than dies of (`KubeError` includes refused and reset
connections and an open circuit breaker)."""
