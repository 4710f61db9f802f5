"""`wait postgres [DSN]`: an authenticated connection answers `SELECT 1`, TLS as libpq does it."""

from __future__ import annotations

import dataclasses
import os
import shlex
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gitops_lifecycle.retry.checks import pgtls
from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse
    import ssl

    from gitops_lifecycle.retry.waitsettings import WaitSettings

NAME = "postgres"
SERVICE = "database"
HELP = "PostgreSQL accepts our credentials and answers SELECT 1"

# libpq parameters asyncpg would otherwise send to the server as settings, or ignore.
_OURS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")
_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
        "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT"}
_KEYWORDS = {"dbname": "database", "user": "user", "password": "password", "host": "host",
             "port": "port", "passfile": "passfile", "target_session_attrs": "target_session_attrs"}
# SQLSTATEs that say the credentials or pg_hba.conf reject us: waiting will not change that.
_FATAL_STATES = {"28P01", "28000"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`[DSN] [--require-primary]`; without a DSN the libpq environment (PGHOST…) is used."""
    parser.add_argument("dsn", nargs="?", metavar="DSN",
                        help="postgresql://user:password@host:port/db?sslmode=… or libpq's "
                        "key=value pairs (host, port, dbname, user, password, passfile, "
                        "sslmode, sslrootcert, sslcert, sslkey, connect_timeout, "
                        "target_session_attrs, application_name); default: PGHOST, PGPORT, "
                        "PGDATABASE, PGUSER, PGPASSWORD, PGPASSFILE")
    parser.add_argument("--require-primary", action="store_true",
                        help="a server in recovery (a standby) is not ready")


@dataclasses.dataclass
class Options:
    """Connection arguments for asyncpg, and the libpq parameters we apply ourselves."""

    connect: dict[str, Any]
    params: dict[str, str]
    target: str


def parse(dsn: str | None, env: dict[str, str]) -> Options:
    """Split a URL or keyword DSN into asyncpg's arguments and our TLS/timeout parameters."""
    if dsn and "://" in dsn:
        connect, params, target = _from_url(dsn)
    else:
        connect, params = _from_keywords(dsn or "")
        target = _describe_target(connect, env)
    for key, variable in _ENV.items():
        if key not in params and env.get(variable):
            params[key] = env[variable]
    return Options(connect=connect, params=params, target=target)


_SCHEMES = ("postgresql", "postgres")


def _from_url(dsn: str) -> tuple[dict[str, Any], dict[str, str], str]:
    parts = urlsplit(dsn)
    if parts.scheme not in _SCHEMES:
        raise NotRetryable(f"expected a postgresql:// URL or key=value pairs, not a "
                           f"{parts.scheme}:// URL")
    for address in parts.netloc.rpartition("@")[2].split(","):
        _port(address.rpartition("]")[2].partition(":")[2] or "5432")
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = {k: v for k, v in query if k in _OURS}
    rest = urlencode([(k, v) for k, v in query if k not in _OURS])
    cleaned = urlunsplit(parts._replace(query=rest))
    return {"dsn": cleaned}, params, cleaned


def _from_keywords(dsn: str) -> tuple[dict[str, Any], dict[str, str]]:
    connect: dict[str, Any] = {}
    params: dict[str, str] = {}
    try:
        words = shlex.split(dsn)
    except ValueError as exc:
        raise NotRetryable(f"DSN: {exc}") from None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise NotRetryable(f"DSN word {key!r} is not key=value")
        if key in _OURS:
            params[key] = value
        elif key == "port":
            connect["port"] = [_port(text) for text in value.split(",")]
        elif key == "host":
            connect["host"] = value.split(",")
        elif key == "application_name":
            connect.setdefault("server_settings", {})["application_name"] = value
        elif key in _KEYWORDS:
            connect[_KEYWORDS[key]] = value
        else:
            raise NotRetryable(f"DSN parameter {key!r} is not supported")
    return _single(connect), params


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise NotRetryable(f"port {text!r} is not a port number")
    return int(text)


def _single(connect: dict[str, Any]) -> dict[str, Any]:
    """asyncpg takes a list for several hosts (libpq's `host=a,b port=1,2`), else one value."""
    hosts, ports = connect.get("host", [""]), connect.get("port", [0])
    if len(ports) > 1 and len(ports) != len(hosts):
        raise NotRetryable(f"{len(ports)} ports given for {len(hosts)} hosts")
    for key in ("host", "port"):
        if key in connect and len(connect[key]) == 1:
            connect[key] = connect[key][0]
    return connect


def _describe_target(connect: dict[str, Any], env: dict[str, str]) -> str:
    user = connect.get("user") or env.get("PGUSER", "")
    hosts = _listed(connect.get("host") or env.get("PGHOST", "localhost"))
    ports = _listed(connect.get("port") or env.get("PGPORT", "5432"))
    if len(ports) == 1:
        ports *= len(hosts)
    addresses = ",".join(f"{host}:{port}" for host, port in zip(hosts, ports, strict=False))
    database = connect.get("database") or env.get("PGDATABASE", "")
    return f"postgresql://{user}@{addresses}/{database}"


def _listed(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return str(value).split(",")


@dataclasses.dataclass
class PostgresCheck:
    """Connect, authenticate, `SELECT 1`, optionally insist on a primary, disconnect."""

    options: Options
    tls: ssl.SSLContext | None
    prefer: bool
    connect_timeout: float | None
    require_primary: bool = False

    @property
    def target(self) -> str:
        """The DSN without its password."""
        return self.options.target

    async def attempt(self, budget: float) -> None:
        """One connection, classified: retry what may pass later, give up on what cannot."""
        import asyncpg

        try:
            await self._attempt(budget)
        except asyncpg.PostgresError as exc:
            raise _classify(exc) from exc
        except pgtls.SSL_VERIFY_ERRORS as exc:
            raise NotRetryable(f"TLS verification failed: {describe(exc)}") from exc
        except (asyncpg.InterfaceError, asyncpg.exceptions.TargetServerAttributeNotMatched) as exc:
            # target_session_attrs: a failover or a new standby may make one match.
            raise NotReady(describe(exc)) from exc

    async def _attempt(self, budget: float) -> None:
        limit = min(budget, self.connect_timeout or budget)
        connection = await self._connect(limit)
        try:
            await connection.fetchval("SELECT 1")
            if self.require_primary and await connection.fetchval("SELECT pg_is_in_recovery()"):
                raise NotReady("server is in recovery (a standby), --require-primary given")
        finally:
            await connection.close(timeout=limit)

    async def _connect(self, limit: float) -> Any:
        import asyncpg

        ssl_arg: ssl.SSLContext | bool = self.tls if self.tls is not None else False
        try:
            return await asyncpg.connect(**self.options.connect, ssl=ssl_arg, timeout=limit)
        except ConnectionError as exc:
            # sslmode=prefer: a server without TLS is fine, in plain text.
            if not (self.prefer and "rejected SSL upgrade" in str(exc)):
                raise
        return await asyncpg.connect(**self.options.connect, ssl=False, timeout=limit)


def _classify(exc: Exception) -> NotReady | NotRetryable:
    state = getattr(exc, "sqlstate", None)
    message = f"{describe(exc)} (SQLSTATE {state})"
    if state in _FATAL_STATES:
        return NotRetryable(message)
    return NotReady(message)


def build(args: argparse.Namespace, _settings: WaitSettings) -> PostgresCheck:
    """The check for the DSN or libpq environment given."""
    options = parse(args.dsn, dict(os.environ))
    mode = options.params.get("sslmode", "prefer")
    timeout = options.params.get("connect_timeout")
    return PostgresCheck(
        options=options,
        tls=pgtls.context(mode, options.params),
        prefer=mode == "prefer",
        connect_timeout=_connect_timeout(timeout),
        require_primary=args.require_primary,
    )


def _connect_timeout(text: str | None) -> float | None:
    """libpq's `connect_timeout`: whole seconds, 0 or absent means none, below 2 means 2."""
    if not text:
        return None
    try:
        seconds = int(text)
    except ValueError:
        raise NotRetryable(f"connect_timeout={text!r} is not a whole number of seconds") from None
    return None if seconds <= 0 else float(max(seconds, 2))
