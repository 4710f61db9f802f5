"""TLS client contexts from a CA bundle or `--insecure`, for the redis, mqtt and http checks."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from gitops_lifecycle.retry.errors import NotRetryable, caused_by

if TYPE_CHECKING:
    import argparse
    from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--ca-file PATH` and `--insecure`."""
    from pathlib import Path

    parser.add_argument("--ca-file", type=Path, help="CA bundle to verify the server with")
    parser.add_argument("--insecure", action="store_true",
                        help="encrypt but do not verify the server's certificate")


def client_context(ca_file: Path | None, *, insecure: bool) -> ssl.SSLContext:
    """A client context verifying against `ca_file` (default: system CAs), or not at all."""
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise NotRetryable(f"cannot load CA bundle {ca_file}: {exc}") from exc
    return context


def verification_failed(error: BaseException) -> bool:
    """Whether TLS verification of the server's certificate caused `error`."""
    return caused_by(error, (ssl.SSLCertVerificationError,)) or (
        "CERTIFICATE_VERIFY_FAILED" in str(error)
    )
