"""Log lines are JSON by default and never carry secrets."""

from __future__ import annotations

import json
import logging

import pytest

from gitops_lifecycle import logs


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("postgresql://app:hunter2@db:5432/app", "hunter2"),
        ("redis://:hunter2@redis:6379/0", "hunter2"),
        ("host=db user=app password=hunter2 sslmode=require", "hunter2"),
        ("host=db password='hunter 2'", "hunter 2"),
        ("Authorization: Bearer hunter2.abc", "hunter2"),
    ],
)
def test_secrets_inside_text_are_masked(text: str, leaked: str) -> None:
    assert leaked not in logs.redact_text(text)
    assert logs.MASK in logs.redact_text(text)


def test_text_without_secrets_is_unchanged() -> None:
    assert logs.redact_text("tcp://db:5432 is up") == "tcp://db:5432 is up"


def test_log_lines_are_json_with_secret_fields_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    logs.get("test").info(
        "connecting", dsn="postgresql://u:hunter2@db/app", token="abc", nested={"password": "x"}
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "connecting"
    assert line["component"] == "test"
    assert line["dsn"] == "postgresql://u:***@db/app"
    assert line["token"] == logs.MASK
    assert line["nested"] == {"password": logs.MASK}
    assert "hunter2" not in json.dumps(line)


def test_debug_lines_are_dropped_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    logs.get("test").debug("noise")
    assert "noise" not in capsys.readouterr().err


def test_standard_library_warnings_go_through_the_same_renderer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("info", "json")
    logging.getLogger("aiohttp.client").warning("retrying with password=%s", "hunter2")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["logger"] == "aiohttp.client"
    assert "hunter2" not in line["event"]


def test_console_format_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "console")
    logs.get("test").info("hello", count=3)
    err = capsys.readouterr().err
    assert "hello" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.strip().splitlines()[-1])
