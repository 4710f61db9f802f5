"""Why a check did not pass: worth another attempt, or never going to work."""

from __future__ import annotations


class WaitError(Exception):
    """A check did not pass."""


class NotReady(WaitError):
    """The dependency is not ready yet; another attempt may succeed."""


class NotRetryable(WaitError):
    """Retrying cannot help: bad credentials, failed TLS verification, a bad argument."""


class DeadlineReached(WaitError):
    """No time is left for another attempt."""
