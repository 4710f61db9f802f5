"""Why a check did not pass: worth another attempt, or never going to work."""

from __future__ import annotations


class WaitError(Exception):
    """A check did not pass."""


class NotReady(WaitError):  # noqa: N818 - reads as the state it reports
    """The dependency is not ready yet; another attempt may succeed."""


class NotRetryable(WaitError):  # noqa: N818 - reads as the state it reports
    """Retrying cannot help: bad credentials, failed TLS verification, a bad argument."""


class DeadlineReached(WaitError):  # noqa: N818 - reads as the state it reports
    """No time is left for another attempt."""


def caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether `error` or anything in its cause/context chain is one of `kinds`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
