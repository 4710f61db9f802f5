"""The Authentik version: exported as `gitops_authentik_info{version}`, refused when too old."""

from __future__ import annotations

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import ForbiddenError
from gitops_lifecycle.authentik.versions import supported

log = logs.get("discovery.version")

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
