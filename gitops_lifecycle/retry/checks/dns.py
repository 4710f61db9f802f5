"""`wait dns NAME [--expect ADDRESS …]`: the name resolves (to the addresses expected)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from typing import TYPE_CHECKING

from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import WaitSettings

NAME = "dns"
SERVICE = "dns"
HELP = "a host name resolves, through the system's resolver as the application will"
_FAMILIES = {"any": socket.AF_UNSPEC, "a": socket.AF_INET, "aaaa": socket.AF_INET6}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`NAME [--type any|a|aaaa] [--expect ADDRESS …]`."""
    parser.add_argument("host", metavar="NAME",
                        help="host name to resolve, e.g. db.payments.svc.cluster.local")
    parser.add_argument("--type", choices=sorted(_FAMILIES), default="any", dest="family",
                        help="address family: a (IPv4), aaaa (IPv6) or any (default: any)")
    parser.add_argument("--expect", action="append", default=[], metavar="ADDRESS",
                        help="an address the name must resolve to (repeatable)")


@dataclasses.dataclass
class DnsCheck:
    """Resolve the name; all expected addresses must be among the answers."""

    host: str
    family: int
    expect: list[str]

    @property
    def target(self) -> str:
        """The name."""
        return self.host

    async def attempt(self, budget: float) -> None:
        """One lookup."""
        del budget
        loop = asyncio.get_running_loop()
        try:
            answers = await loop.getaddrinfo(self.host, None, family=self.family,
                                             type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NotReady(f"{self.host}: {describe(exc)}") from exc
        found = {str(ipaddress.ip_address(info[4][0])) for info in answers}
        missing = [address for address in self.expect if address not in found]
        if missing:
            raise NotReady(f"{self.host} resolves to {', '.join(sorted(found))}, "
                           f"not {', '.join(missing)}")


def build(args: argparse.Namespace, _settings: WaitSettings) -> DnsCheck:
    """The check for the name given."""
    try:
        expect = [str(ipaddress.ip_address(text)) for text in args.expect]
    except ValueError as exc:
        raise NotRetryable(f"--expect: {exc}") from None
    if not args.host or "/" in args.host or ":" in args.host:
        raise NotRetryable(f"{args.host!r} is not a host name")
    return DnsCheck(host=args.host, family=_FAMILIES[args.family], expect=expect)
