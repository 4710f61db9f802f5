"""TLS client contexts for the redis, mqtt and http checks: a CA bundle or `--insecure`, and
a client certificate for mutual TLS."""

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
    parser.add_argument("--cert-file", type=Path, metavar="FILE",
                        help="client certificate (PEM) for mutual TLS")
    parser.add_argument("--key-file", type=Path, metavar="FILE",
                        help="its private key (default: in --cert-file)")


def wanted(args: argparse.Namespace) -> bool:
    """Whether any TLS flag was given."""
    return bool(args.ca_file or args.insecure or args.cert_file or args.key_file)


def from_args(args: argparse.Namespace) -> ssl.SSLContext:
    """The client context the TLS flags describe."""
    if args.key_file and not args.cert_file:
        raise NotRetryable("--key-file goes with --cert-file")
    return client_context(args.ca_file, insecure=args.insecure, cert_file=args.cert_file,
                          key_file=args.key_file)


def client_context(ca_file: Path | None, *, insecure: bool, cert_file: Path | None = None,
                   key_file: Path | None = None) -> ssl.SSLContext:
    """A client context verifying against `ca_file` (default: system CAs), or not at all,
    presenting `cert_file` when given."""
    context = ssl.create_default_context()
    if cert_file is not None:
        try:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise NotRetryable(f"cannot load client certificate {cert_file}: {exc}") from exc
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
