"""Structured logging: JSON lines for machines, console rendering for people, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

_SECRET_KEY = re.compile(
    r"token|password|passwd|secret|authorization|api_?key|credential", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
_BEARER = re.compile(r"(\bBearer\s+)\S+", re.IGNORECASE)
# Query parameters that carry credentials: token, access_token, apikey, api-key, password,
# secret, client_secret, key, sig, signature (pre-signed URLs), X-Amz-Credential, auth, …
_QUERY_SECRET = re.compile(
    r"([?&;](?:[\w.-]*[_.-])?(?:token|password|passwd|pwd|secret|api_?-?key|key|sig|signature"
    r"|credential|auth|authorization|session|code)=)([^&#\s'\"]+)",
    re.IGNORECASE,
)
MASK = "***"


def redact_text(text: str) -> str:
    """Mask passwords in URLs and DSNs, credentials in query strings and bearer tokens."""
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    text = _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", text)
    return _BEARER.sub(rf"\g<1>{MASK}", text)


def redact(value: Any, key: str = "") -> Any:
    """Mask secret-looking keys and secrets embedded in strings, recursively."""
    if key and _SECRET_KEY.search(key) and value not in (None, "", False):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def redact_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: `redact` every value but a non-text `event`."""
    return {key: value if key == "event" and not isinstance(value, str) else redact(value, key)
            for key, value in event.items()}


class _Stderr:
    """Whatever `sys.stderr` is at the time of writing (tests and daemons swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _console(fmt: str) -> bool:
    return fmt == "console" or (fmt == "auto" and sys.stderr.isatty())


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Set up structlog (and the standard library's loggers) to write to stderr."""
    import structlog

    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if _console(fmt)
        else structlog.processors.JSONRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_event,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


def get(name: str) -> Any:
    """A logger bound to a component name (resolved lazily, so `configure` may come later)."""
    import structlog

    return structlog.get_logger(component=name)


def command_logger(name: str, level: str, fmt: str) -> Any:
    """Set up logging for a short command and return its logger; JSON needs no structlog."""
    if _console(fmt):
        configure(level, fmt)
        return get(name)
    from gitops_lifecycle import jsonlog

    jsonlog.configure(level)
    return jsonlog.get(level, name)


class Recurring:
    """A failure that keeps recurring is said once, then again at doubling intervals.

    `due(text)` answers how many repeats went unsaid when `text` should be logged now, or None
    to stay quiet; a different text, or `clear()` after a success, starts afresh.
    """

    def __init__(self, monotonic: Callable[[], float], *, first: float = 10.0,
                 longest: float = 300.0) -> None:
        self._monotonic = monotonic
        self._first, self._longest = first, longest
        self._text: str | None = None
        self._gap = first
        self._next = 0.0
        self._unsaid = 0

    def due(self, text: str) -> int | None:
        """None while `text` is a repeat inside its interval; else the repeats left unsaid."""
        now = self._monotonic()
        if text != self._text:
            self._text, self._gap, self._unsaid = text, self._first, 0
            self._next = now + self._gap
            return 0
        if now < self._next:
            self._unsaid += 1
            return None
        self._gap = min(self._gap * 2, self._longest)
        self._next = now + self._gap
        unsaid, self._unsaid = self._unsaid, 0
        return unsaid

    def clear(self) -> None:
        """The failure is over: the next one is said at once."""
        self._text = None
