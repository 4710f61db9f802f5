"""The Authentik version: exported as `gitops_authentik_info{version}`, refused when too old."""

from __future__ import annotations

import re

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import ForbiddenError

log = logs.get("discovery.version")

OLDEST = (2024, 10)
"""The oldest Authentik release whose API this daemon speaks."""


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


class VersionCheck:
    """Asks once (again after a failure), remembers the answer."""

    def __init__(self, client: Authentik) -> None:
        self._client = client
        self.version: str | None = None
        self.problem: str | None = None

    async def check(self) -> None:
        if self.version is not None:
            return
        try:
            version = await self._client.version()
        except ForbiddenError:
            # A token without the admin permission cannot read the version: go on, as the
            # fields we use would tell soon enough.
            log.warning("the token may not read Authentik's version; not checked")
            self.version = "unknown"
            return
        self.version = version
        self.problem = supported(version)
        metrics.AUTHENTIK_INFO.info({"version": version})
        if self.problem:
            log.error("unsupported Authentik version", version=version)
