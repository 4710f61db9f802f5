"""The one-line JSON summary a `wait` run ends with, and reading it back from a pod."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.logs import redact_text

if TYPE_CHECKING:
    from gitops_lifecycle.retry.engine import Result

KUBERNETES_TERMINATION_LOG = Path("/dev/termination-log")
FIELDS = ("check", "target", "attempts", "duration_seconds", "outcome", "last_error")


@dataclasses.dataclass(frozen=True)
class Summary:
    """What one `wait` run did, as written to stdout and the termination message."""

    check: str
    target: str
    attempts: int
    duration_seconds: float
    outcome: str
    last_error: str | None

    @classmethod
    def of(cls, result: Result, *, check: str, target: str) -> Summary:
        """The summary of `result`, secrets in the target and the error masked."""
        error = result.last_error
        return cls(
            check=check,
            target=redact_text(target),
            attempts=result.attempts,
            duration_seconds=round(result.duration, 3),
            outcome=result.outcome,
            last_error=None if error is None else redact_text(error),
        )

    def to_json(self) -> str:
        """One JSON line, keys in a fixed order."""
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))


def emit(summary: Summary, *, termination_log: Path | None) -> None:
    """Print the summary on stdout and leave it as the container's termination message."""
    line = summary.to_json()
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    path = termination_log
    if path is None and KUBERNETES_TERMINATION_LOG.exists():
        path = KUBERNETES_TERMINATION_LOG
    if path is not None:
        try:
            path.write_text(line + "\n")
        except OSError as exc:
            sys.stderr.write(f"cannot write the termination message to {path}: {exc}\n")


def parse(message: str | None) -> Summary | None:
    """The summary inside a termination message (its last JSON line), or None."""
    for line in reversed((message or "").strip().splitlines()):
        data = _json_object(line)
        if data is not None:
            return _summary(data)
    return None


def _json_object(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _summary(data: dict[str, Any]) -> Summary | None:
    if not set(FIELDS) <= data.keys():
        return None
    try:
        return Summary(
            check=str(data["check"]),
            target=str(data["target"]),
            attempts=int(data["attempts"]),
            duration_seconds=float(data["duration_seconds"]),
            outcome=str(data["outcome"]),
            last_error=None if data["last_error"] is None else str(data["last_error"]),
        )
    except (TypeError, ValueError):
        return None
