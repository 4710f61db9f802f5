"""TLS for PostgreSQL with libpq's `sslmode` meanings, built here rather than left to asyncpg."""

from __future__ import annotations

import ssl
from pathlib import Path

MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
SSL_VERIFY_ERRORS = (ssl.SSLCertVerificationError,)
_DEFAULT_ROOT = Path("~/.postgresql/root.crt")


def context(mode: str, params: dict[str, str]) -> ssl.SSLContext | None:
    """The TLS context for `mode`, or None for `disable`.

    `prefer` and `require` encrypt without verifying, except that `require` with a root
    certificate file behaves like `verify-ca` (as libpq does); `verify-ca` checks the chain,
    `verify-full` the chain and the host name. Raises NotRetryable for a bad mode or file.
    """
    from gitops_lifecycle.retry.errors import NotRetryable

    if mode not in MODES:
        raise NotRetryable(f"sslmode={mode!r} is not one of {', '.join(MODES)}")
    if mode == "disable":
        return None
    root = params.get("sslrootcert")
    verify = mode.startswith("verify-") or (mode == "require" and _root_exists(root))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        _client_certificate(tls, params)
        if verify:
            _verify(tls, root, check_hostname=mode == "verify-full")
        else:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    except OSError as exc:
        raise NotRetryable(f"sslmode={mode}: {exc}") from exc
    return tls


def _root_exists(root: str | None) -> bool:
    if root == "system":
        return True
    return Path(root or _DEFAULT_ROOT).expanduser().is_file()


def _verify(tls: ssl.SSLContext, root: str | None, *, check_hostname: bool) -> None:
    tls.check_hostname = check_hostname
    tls.verify_mode = ssl.CERT_REQUIRED
    if root == "system":
        tls.load_default_certs()
        return
    path = Path(root or _DEFAULT_ROOT).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"root certificate file {str(path)!r} does not exist")
    tls.load_verify_locations(cafile=str(path))


def _client_certificate(tls: ssl.SSLContext, params: dict[str, str]) -> None:
    cert = params.get("sslcert")
    if cert and Path(cert).expanduser().is_file():
        tls.load_cert_chain(cert, params.get("sslkey") or None)
