"""`wait tcp host:port …`: every address accepts a TCP connection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING

from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import WaitSettings

NAME = "tcp"
SERVICE = "tcp"
HELP = "every HOST:PORT accepts a TCP connection"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`HOST:PORT [HOST:PORT …]`."""
    parser.add_argument("addresses", nargs="+", metavar="HOST:PORT",
                        help="one or more addresses, e.g. db:5432 or [v6]:port; all must accept")


def split_address(text: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` as (host, port)."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NotRetryable(f"{text!r} is not HOST:PORT")
    return host, int(port)


@dataclasses.dataclass
class TcpCheck:
    """Connect to every address at once; all must accept."""

    addresses: list[tuple[str, int]]

    @property
    def target(self) -> str:
        """The addresses, comma-separated."""
        return ",".join(f"{host}:{port}" for host, port in self.addresses)

    async def attempt(self, budget: float) -> None:
        """Open and close one connection to each address."""
        del budget
        results = await asyncio.gather(
            *(_connect(host, port) for host, port in self.addresses), return_exceptions=True
        )
        failed = [
            f"{host}:{port}: {describe(result)}"
            for (host, port), result in zip(self.addresses, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if failed:
            raise NotReady("; ".join(failed))


async def _connect(host: str, port: int) -> None:
    _reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def build(args: argparse.Namespace, _settings: WaitSettings) -> TcpCheck:
    """The check for the addresses given."""
    return TcpCheck([split_address(text) for text in args.addresses])
