"""How one `wait` retries: the fields of `retry.defaults`, as a plain dataclass."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Policy:
    """Attempts, backoff and deadlines; the defaults are those of `retry.defaults`."""

    max_attempts: int = 10
    base_delay: float = 2.0
    max_delay: float = 60.0
    backoff_multiplier: float = 2.0
    jitter: bool = True
    timeout: float = 300.0
    attempt_timeout: float = 10.0

    def fields(self) -> dict[str, Any]:
        """Every field by name, in order (as the `waiting` log line shows them)."""
        return dataclasses.asdict(self)


FIELDS = tuple(field.name for field in dataclasses.fields(Policy))
DEFAULT = Policy()
