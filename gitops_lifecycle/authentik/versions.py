"""Which Authentik releases this client speaks to."""

from __future__ import annotations

import re

OLDEST = (2024, 10)
"""The oldest Authentik release whose API this client speaks."""


def parse_version(text: str) -> tuple[int, int] | None:
    """(year, month) of `2025.10.1`; None when it is not a release version."""
    match = re.match(r"^\s*(\d{4})\.(\d{1,2})", text)
    return (int(match[1]), int(match[2])) if match else None


def supported(text: str) -> str | None:
    """Why version `text` is not supported (None when it is, or cannot be told)."""
    version = parse_version(text)
    if version is not None and version < OLDEST:
        return (f"Authentik {text} is older than the oldest supported release "
                f"{OLDEST[0]}.{OLDEST[1]}; upgrade Authentik")
    return None
