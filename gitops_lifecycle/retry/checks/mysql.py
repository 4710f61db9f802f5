"""`wait mysql URL`: MySQL or MariaDB accepts our credentials and answers `SELECT 1`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from gitops_lifecycle.logs import redact_text
from gitops_lifecycle.retry.checks import tlsfiles
from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse
    import ssl

    from gitops_lifecycle.retry.waitsettings import WaitSettings

NAME = "mysql"
SERVICE = "mysql"
HELP = "MySQL or MariaDB accepts our credentials and answers SELECT 1"
_SCHEMES = ("mysql", "mariadb")
# Server errors no amount of waiting changes: access denied (user, database), bad handshake.
_FATAL = {1044, 1045, 1043, 1251}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`URL [--tls] [TLS options]`."""
    parser.add_argument("url", metavar="URL",
                        help="mysql://user:password@host:port/database (or mariadb://)")
    parser.add_argument("--tls", action="store_true",
                        help="require TLS (implied by --ca-file, --insecure, --cert-file)")
    tlsfiles.add_arguments(parser)


@dataclasses.dataclass
class MysqlCheck:
    """Connect, authenticate, `SELECT 1`, disconnect."""

    url: str
    connect: dict[str, Any]
    tls: ssl.SSLContext | None

    @property
    def target(self) -> str:
        """The URL without its password."""
        return redact_text(self.url)

    async def attempt(self, budget: float) -> None:
        """One connection, classified by the server's error code."""
        import aiomysql
        import pymysql

        try:
            connection = await aiomysql.connect(**self.connect, ssl=self.tls,
                                                connect_timeout=budget)
        except pymysql.err.MySQLError as exc:
            raise _classify(exc) from exc
        try:
            async with connection.cursor() as cursor:
                await cursor.execute("SELECT 1")
        except pymysql.err.MySQLError as exc:
            raise _classify(exc) from exc
        finally:
            connection.close()


def _classify(exc: Exception) -> NotReady | NotRetryable:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = describe(exc)
    if code in _FATAL:
        return NotRetryable(text)
    if tlsfiles.verification_failed(exc):
        return NotRetryable(f"TLS verification failed: {text}")
    return NotReady(text)


def build(args: argparse.Namespace, _settings: WaitSettings) -> MysqlCheck:
    """The check for the URL and flags given."""
    parts = urlsplit(args.url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise NotRetryable("expected mysql://user:password@host[:port]/database")
    try:
        port = parts.port or 3306
    except ValueError as exc:
        raise NotRetryable(f"bad port in {redact_text(args.url)!r}") from exc
    connect = {"host": parts.hostname, "port": port, "user": unquote(parts.username or ""),
               "password": unquote(parts.password or ""),
               "db": unquote(parts.path.lstrip("/")) or None}
    tls = tlsfiles.from_args(args) if args.tls or tlsfiles.wanted(args) else None
    return MysqlCheck(url=args.url, connect=connect, tls=tls)
