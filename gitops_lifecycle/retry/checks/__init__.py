"""One module per `wait` check; each loads its driver only when its attempt runs.

A check module has `NAME` (the subcommand), `SERVICE` (its key under `retry.services`),
`HELP`, `add_arguments(parser)` and `build(args) -> Check`.
"""

from __future__ import annotations

from typing import Protocol


class Check(Protocol):
    """One readiness check, tried again until it passes."""

    target: str
    """What is checked, for logs and the summary (secrets are masked before printing)."""

    async def attempt(self, budget: float) -> None:
        """Return when ready; raise NotReady (try again) or NotRetryable (give up)."""
        ...
