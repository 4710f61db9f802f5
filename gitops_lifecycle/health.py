"""Liveness and readiness checks that components register and the server reports."""

from __future__ import annotations

from collections.abc import Callable

Check = Callable[[], str | None]
"""Returns None when healthy, otherwise a short reason."""


class Health:
    """Named checks, reported in the style of the Kubernetes API server's `/readyz?verbose`."""

    def __init__(self) -> None:
        self._checks: dict[str, dict[str, Check]] = {"livez": {}, "readyz": {}}

    def liveness(self, name: str, check: Check) -> None:
        """Register a check whose failure means the process should be restarted."""
        self._checks["livez"][name] = check

    def readiness(self, name: str, check: Check) -> None:
        """Register a check whose failure means the process is not ready yet."""
        self._checks["readyz"][name] = check

    def report(self, kind: str) -> tuple[bool, str]:
        """Run every check of `kind` ("livez" or "readyz"): whether all pass, and a body."""
        lines = []
        healthy = True
        for name, check in self._checks[kind].items():
            try:
                reason = check()
            except Exception as exc:  # a broken check is a failing check, not a crash
                reason = f"check raised {exc!r}"
            if reason is None:
                lines.append(f"[+]{name} ok")
            else:
                healthy = False
                lines.append(f"[-]{name} failed: {reason}")
        lines.append(f"{kind} check {'passed' if healthy else 'failed'}")
        return healthy, "\n".join(lines) + "\n"
