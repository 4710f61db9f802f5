"""The API token: from the settings, or from a mounted Secret file that may be rotated.

The file is read again when its modification time or size changes, and on a 403 (the token
may have been rotated between two looks), so a new token needs no restart. The token is never
logged: it leaves this module only as an Authorization header.
"""

from __future__ import annotations

import os
from pathlib import Path

from gitops_lifecycle import logs

log = logs.get("authentik.token")


class TokenSource:
    """The current bearer token."""

    def __init__(self, *, token: str = "", path: Path | None = None) -> None:
        self._fixed = token
        self._path = path
        self._token = token
        self._stamp: tuple[int, int] | None = None

    def header(self) -> str:
        """`Bearer <token>` ("" without a token)."""
        token = self.current()
        return f"Bearer {token}" if token else ""

    def current(self) -> str:
        """The token, re-read from the file when it changed since the last read."""
        if self._path is not None:
            stamp = self._stat()
            if stamp != self._stamp:
                self._read(stamp)
        return self._token

    def refresh(self) -> bool:
        """Read the file again (after a 403); whether that gave a different token."""
        if self._path is None:
            return False
        before = self._token
        self._read(self._stat())
        return self._token != before

    def _stat(self) -> tuple[int, int] | None:
        assert self._path is not None
        try:
            info = os.stat(self._path)  # noqa: PTH116 - one syscall, no Path object per request
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _read(self, stamp: tuple[int, int] | None) -> None:
        assert self._path is not None
        self._stamp = stamp
        try:
            self._token = self._path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            log.warning("cannot read the Authentik token file", path=str(self._path),
                        error=exc.strerror)
            self._token = self._fixed
