"""`wait mqtt URL`: CONNECT is answered with CONNACK 0 for our credentials, then DISCONNECT."""

from __future__ import annotations

import dataclasses
import os
import uuid
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

NAME = "mqtt"
SERVICE = "mqtt"
HELP = "an MQTT broker accepts our CONNECT (CONNACK 0)"

# CONNACK codes that no amount of waiting changes: MQTT 3.1.1 (1, 2, 4, 5) and their MQTT 5
# reason codes (132 protocol, 133 client id, 134 bad user name or password, 135 not authorized,
# 140 bad authentication method). "Server unavailable" (3, 136) and "busy" (137) are retried.
_FATAL_CODES = {1, 2, 4, 5, 132, 133, 134, 135, 140}
_PORTS = {"mqtt": 1883, "mqtts": 8883}
_VERSIONS = {"3.1": "V31", "3.1.1": "V311", "5": "V5"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`URL [--username U] [--password P] [--client-id-prefix P] [TLS options]`."""
    parser.add_argument("url", metavar="URL",
                        help="mqtt://[user:password@]host[:port] or mqtts:// for TLS")
    parser.add_argument("--username", help="user name (overrides the URL's)")
    parser.add_argument("--password", help="password (overrides the URL's)")
    parser.add_argument("--mqtt-version", choices=sorted(_VERSIONS), default="3.1.1",
                        help="protocol version of the CONNECT (default: 3.1.1)")
    parser.add_argument("--client-id-prefix", default="gitops-lifecycle-wait",
                        help="a random suffix makes each attempt's client id unique")
    tlsfiles.add_arguments(parser)


@dataclasses.dataclass
class MqttCheck:
    """Connect with a unique client id and disconnect at once."""

    url: str
    host: str
    port: int
    username: str | None
    password: str | None
    client_id_prefix: str
    tls: ssl.SSLContext | None
    version: str = "3.1.1"

    @property
    def target(self) -> str:
        """The URL without its password."""
        return redact_text(self.url)

    async def attempt(self, budget: float) -> None:
        """One CONNECT/CONNACK/DISCONNECT."""
        import aiomqtt

        client = aiomqtt.Client(
            self.host, self.port, username=self.username, password=self.password,
            identifier=f"{self.client_id_prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            tls_context=self.tls, tls_insecure=self._insecure(), timeout=budget,
            protocol=getattr(aiomqtt.ProtocolVersion, _VERSIONS[self.version]),
        )
        try:
            async with client:
                pass
        except aiomqtt.MqttCodeError as exc:
            raise _classify(exc) from exc
        except aiomqtt.MqttError as exc:
            if tlsfiles.verification_failed(exc):
                raise NotRetryable(f"TLS verification failed: {describe(exc)}") from exc
            raise NotReady(describe(exc)) from exc

    def _insecure(self) -> bool | None:
        if self.tls is None:
            return None
        return not self.tls.check_hostname


def _classify(exc: Any) -> NotReady | NotRetryable:
    code = getattr(exc.rc, "value", exc.rc)
    if code in _FATAL_CODES:
        return NotRetryable(f"CONNACK refused: {describe(exc)}")
    return NotReady(describe(exc))


def build(args: argparse.Namespace, _settings: WaitSettings) -> MqttCheck:
    """The check for the URL and flags given."""
    parts = urlsplit(args.url)
    if parts.scheme not in _PORTS or not parts.hostname:
        raise NotRetryable("expected mqtt://host[:port] or mqtts://host[:port]")
    try:
        port = parts.port or _PORTS[parts.scheme]
    except ValueError as exc:
        raise NotRetryable(f"bad port in {redact_text(args.url)!r}") from exc
    tls = None
    if parts.scheme == "mqtts":
        tls = tlsfiles.from_args(args)
    return MqttCheck(
        url=args.url, host=parts.hostname, port=port,
        username=args.username or (unquote(parts.username) if parts.username else None),
        password=args.password or (unquote(parts.password) if parts.password else None),
        client_id_prefix=args.client_id_prefix, tls=tls, version=args.mqtt_version,
    )
