"""`wait`'s JSON lines without structlog are the lines structlog writes, byte for byte."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from gitops_lifecycle import jsonlog, logs

TIMESTAMP = re.compile(r'"timestamp": "(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"')


def write_lines(log) -> None:
    """What `wait` logs, and values of every kind it might bind."""
    bound = log.bind(check="postgres", target="postgresql://app:hunter2@db/app")
    bound.debug("waiting", max_attempts=10, timeout=300.0)
    bound.info("waiting", max_attempts=10, base_delay=2.0, jitter=True, retry_in=None)
    bound.warning("maxAttempts cannot be reached", expected_backoff_seconds=151.0)
    bound.info("attempt failed", attempt=1, error="password=hunter2 refused", retry_in=0.5)
    bound.error("gave up", error=None, token="s3cret", path=Path("/tmp/x"), level_ok="é ✓",
                nested={"password": "x", "list": [1, "Bearer abc"]})
    log.error("cannot start", check="tcp", error="'x' is not HOST:PORT")


def lines(text: str) -> list[str]:
    return [TIMESTAMP.sub('"timestamp": "T"', line) for line in text.splitlines()]


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("level", ["debug", "info", "error"])
def test_the_lines_are_those_structlog_writes(level, capsys):
    logs.configure(level, "json")
    write_lines(logs.get("wait"))
    by_structlog = capsys.readouterr().err
    write_lines(jsonlog.get(level, "wait"))
    ours = capsys.readouterr().err
    assert TIMESTAMP.search(ours)
    assert lines(ours) == lines(by_structlog)
    assert "hunter2" not in ours
    assert all(json.loads(line)["component"] == "wait" for line in ours.splitlines())


def test_a_library_record_is_written_as_the_structlog_handler_writes_it(capsys):
    logs.configure("info", "json")
    logging.getLogger("asyncio").warning("Unclosed %s to %s", "connection", "db:5432")
    by_structlog = capsys.readouterr().err
    jsonlog.configure("info")
    logging.getLogger("asyncio").warning("Unclosed %s to %s", "connection", "db:5432")
    ours = capsys.readouterr().err
    assert lines(ours) == lines(by_structlog)
    assert json.loads(ours)["logger"] == "asyncio"


def test_json_needs_no_structlog_and_console_lines_still_come_from_it():
    assert isinstance(logs.command_logger("wait", "info", "json"), jsonlog.JsonLines)
    assert not isinstance(logs.command_logger("wait", "info", "console"), jsonlog.JsonLines)
