"""`wait redis URL`: AUTH (user and password) and PING answer PONG; TLS with `rediss://`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gitops_lifecycle.logs import redact_text
from gitops_lifecycle.retry.checks import tlsfiles
from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import WaitSettings

NAME = "redis"
SERVICE = "redis"
HELP = "Redis accepts our credentials and answers PING"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`URL [--username U] [--password P] [--ca-file F | --insecure]`."""
    parser.add_argument("url", metavar="URL",
                        help="redis://[user:password@]host:port/db or rediss:// for TLS")
    parser.add_argument("--username", help="ACL user (overrides the URL's)")
    parser.add_argument("--password", help="password (overrides the URL's)")
    tlsfiles.add_arguments(parser)


@dataclasses.dataclass
class RedisCheck:
    """Connect, authenticate, PING, disconnect."""

    url: str
    options: dict[str, Any]

    @property
    def target(self) -> str:
        """The URL without its password."""
        return redact_text(self.url)

    async def attempt(self, budget: float) -> None:
        """One PING on a fresh connection, without the client's own retries."""
        from redis import exceptions
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = Redis.from_url(
            self.url, socket_connect_timeout=budget, socket_timeout=budget,
            retry=Retry(NoBackoff(), 0), **self.options,
        )
        try:
            reply = await client.ping()
        except exceptions.AuthenticationError as exc:
            raise NotRetryable(_authentication(exc)) from exc
        except exceptions.NoPermissionError as exc:
            raise NotRetryable(f"permission denied: {describe(exc)}") from exc
        except exceptions.RedisError as exc:
            raise _classify(exc) from exc
        finally:
            await client.aclose()
        if reply is not True:
            raise NotReady(f"PING answered {reply!r}")


_GIVE_CREDENTIALS = "the server requires a password: give it in the URL or with --password"


def _authentication(exc: Exception) -> str:
    text = describe(exc)
    # Without credentials Redis 7 answers the client's HELLO with this rather than NOAUTH.
    if text.startswith(("NOAUTH", "HELLO must be called")):
        return _GIVE_CREDENTIALS
    return text


def _classify(exc: Exception) -> NotReady | NotRetryable:
    if tlsfiles.verification_failed(exc):
        return NotRetryable(f"TLS verification failed: {describe(exc)}")
    # `NOAUTH`/`WRONGPASS`/`NOPERM` sometimes arrive as plain response errors (e.g. proxies).
    if str(exc).startswith(("NOAUTH", "WRONGPASS", "HELLO must be called")):
        return NotRetryable(_authentication(exc))
    if str(exc).startswith("NOPERM"):
        return NotRetryable(f"permission denied: {describe(exc)}")
    return NotReady(describe(exc))


def build(args: argparse.Namespace, _settings: WaitSettings) -> RedisCheck:
    """The check for the URL and flags given."""
    scheme = urlsplit(args.url).scheme
    if scheme not in ("redis", "rediss"):
        raise NotRetryable(f"expected a redis:// or rediss:// URL, not {scheme or 'no'} scheme")
    options: dict[str, Any] = {}
    if args.username:
        options["username"] = args.username
    if args.password:
        options["password"] = args.password
    if scheme == "rediss":
        context = tlsfiles.from_args(args)  # checks the files and flags before any attempt
        options["ssl_cert_reqs"] = context.verify_mode
        options["ssl_check_hostname"] = context.check_hostname
        if args.ca_file:
            options["ssl_ca_certs"] = str(args.ca_file)
        if args.cert_file:
            options["ssl_certfile"] = str(args.cert_file)
            options["ssl_keyfile"] = str(args.key_file or args.cert_file)
    return RedisCheck(args.url, options)
