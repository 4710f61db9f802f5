"""Durations as settings and flags write them: `30s`, `30m`, `1h`, `7d`, `1h30m` or seconds."""

from __future__ import annotations

import math
import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_EXPECTED = "a duration such as 30s, 30m, 1h, 7d, 1h30m or plain seconds"


def parse_duration(value: Any) -> float:
    """Turn `30s`, `30m`, `1h`, `7d`, `1h30m` or plain seconds into seconds."""
    # pydantic reports ValueError (not TypeError) as a validation error naming the key.
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration_text(value.strip())
    else:
        raise ValueError(_EXPECTED)  # noqa: TRY004
    if not 0 <= seconds < math.inf:  # also rejects NaN
        raise ValueError(_EXPECTED)
    return seconds


def _parse_duration_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    if not text or _DURATION.sub("", text):
        raise ValueError(_EXPECTED)
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


def format_duration(seconds: float) -> str | float:
    """Render seconds in the largest unit that divides them (3600 → `1h`)."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return seconds
