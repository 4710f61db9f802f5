"""The JSON log lines of `logs.configure`, written without structlog (for `wait`'s quick start).

Importing structlog costs a short-lived init container about a fifth of its start-up. For the
JSON format `wait` writes its lines here, byte for byte as structlog would: the bound values,
the call's values, `event`, `level`, `timestamp`, secrets redacted. Records of the standard
library's loggers (a driver's warning) still go through structlog, configured when the first
one arrives.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from gitops_lifecycle.logs import redact_event


class JsonLines:
    """structlog's filtering bound logger, as `wait` uses it: `bind`, `debug` … `error`."""

    def __init__(self, least: int, context: dict[str, Any]) -> None:
        self._least = least
        self._context = context

    def bind(self, **values: Any) -> JsonLines:
        """The same logger with more values in every line."""
        return JsonLines(self._least, {**self._context, **values})

    def debug(self, event: str, **values: Any) -> None:
        """Write a debug line."""
        self._write(logging.DEBUG, "debug", event, values)

    def info(self, event: str, **values: Any) -> None:
        """Write an info line."""
        self._write(logging.INFO, "info", event, values)

    def warning(self, event: str, **values: Any) -> None:
        """Write a warning line."""
        self._write(logging.WARNING, "warning", event, values)

    def error(self, event: str, **values: Any) -> None:
        """Write an error line."""
        self._write(logging.ERROR, "error", event, values)

    def _write(self, level: int, name: str, event: str, values: dict[str, Any]) -> None:
        if level < self._least:
            return
        now = dt.datetime.now(tz=dt.UTC).isoformat().replace("+00:00", "Z")
        line = {**self._context, **values, "event": event, "level": name, "timestamp": now}
        text = json.dumps(redact_event(None, name, line), default=_fallback)
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _fallback(value: Any) -> Any:
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


class _OnFirstRecord(logging.Handler):
    """Configures structlog's handler when a standard library record first arrives."""

    def __init__(self, level: str) -> None:
        super().__init__()
        self._level = level

    def emit(self, record: logging.LogRecord) -> None:
        from gitops_lifecycle import logs

        logs.configure(self._level, "json")
        logging.getLogger().handle(record)


def configure(level: str) -> None:
    """Route the standard library's records as `logs.configure(level, "json")` would."""
    root = logging.getLogger()
    root.handlers[:] = [_OnFirstRecord(level)]
    root.setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


def get(level: str, name: str) -> JsonLines:
    """A logger writing lines of `level` and above, bound to a component name."""
    return JsonLines(logging.getLevelName(level.upper()), {"component": name})
