"""The JSON summary: fields, masking, the termination message, and reading it back."""

from __future__ import annotations

import json

from gitops_lifecycle.retry import engine, summary
from gitops_lifecycle.retry.errors import NotReady


def made(**changes):
    result = engine.Result(outcome=engine.TIMEOUT, attempts=7, duration=12.34567,
                           error=NotReady("password=hunter2 rejected"))
    base = {"check": "postgres", "target": "postgresql://app:hunter2@db:5432/app"}
    return summary.Summary.of(result, **{**base, **changes})


def test_the_summary_has_the_documented_fields_and_masks_secrets():
    data = json.loads(made().to_json())
    assert list(data) == list(summary.FIELDS)
    assert data["target"] == "postgresql://app:***@db:5432/app"
    assert "hunter2" not in json.dumps(data)
    assert (data["attempts"], data["duration_seconds"], data["outcome"]) == (7, 12.346, "timeout")


def test_emit_prints_one_line_and_writes_the_termination_message(tmp_path, capsys):
    path = tmp_path / "termination-log"
    summary.emit(made(), termination_log=path)
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    assert path.read_text() == printed


def test_a_termination_message_is_read_back_from_its_last_json_line():
    message = "some log line\n{not json\n" + made().to_json() + "\n"
    assert summary.parse(message) == made()


def test_messages_without_our_summary_are_ignored():
    assert summary.parse(None) is None
    assert summary.parse("Error: OOMKilled") is None
    assert summary.parse('{"check": "x"}') is None
    assert summary.parse("[1, 2]") is None
