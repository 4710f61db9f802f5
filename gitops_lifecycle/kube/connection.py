"""Where the API server is and how to authenticate to it, from kubernetes-asyncio's loaders.

kubernetes-asyncio is used only here, for its configuration loaders (in-cluster service
account, kubeconfig files with contexts, exec plugins, OIDC); requests go through our own
aiohttp session. The library is imported lazily so that `wait` starts without it.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

from gitops_lifecycle.kube.errors import ConfigurationError
from gitops_lifecycle.settings import KubernetesSettings


class Credentials:
    """The Authorization header for the next request, refreshed the way the loader allows."""

    def __init__(self, configuration: Any, loader: Any = None) -> None:
        self._configuration = configuration
        self._loader = loader

    async def authorization(self) -> str | None:
        """A bearer token (re-read from the service-account file when it rotates) or basic."""
        token: str | None = await self._configuration.get_api_key_with_prefix("BearerToken")
        if token:
            return token
        if self._configuration.username:
            basic = aiohttp.BasicAuth(self._configuration.username, self._configuration.password)
            return basic.encode()
        return None

    async def refresh(self) -> bool:
        """Run the kubeconfig's exec plugin or OIDC refresh again; False if nothing to refresh."""
        if self._loader is None:
            return False
        await self._loader.load_and_set(self._configuration)
        return True

    def client_certificate(self) -> tuple[str | None, str | None]:
        """The client certificate and key files (an exec plugin writes new ones on refresh)."""
        return self._configuration.cert_file, self._configuration.key_file


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything a request needs besides its path."""

    host: str
    ssl: ssl.SSLContext | bool
    server_hostname: str | None
    credentials: Credentials


async def load(settings: KubernetesSettings) -> Connection:
    """In-cluster config inside a pod unless a kubeconfig or context is named, else kubeconfig."""
    from kubernetes_asyncio import config
    from kubernetes_asyncio.client import Configuration

    configuration = Configuration()
    loader = None
    try:
        if _in_cluster(settings):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            path = str(settings.kubeconfig) if settings.kubeconfig else None
            loader = await config.load_kube_config(
                config_file=path, context=settings.context,
                client_configuration=configuration, persist_config=False,
            )
    except (config.ConfigException, OSError) as exc:
        raise ConfigurationError(f"cannot load Kubernetes configuration: {exc}") from exc
    return Connection(
        host=(configuration.host or "").rstrip("/"),
        ssl=_ssl_context(configuration),
        server_hostname=configuration.tls_server_name,
        credentials=Credentials(configuration, loader),
    )


def reload_certificate(connection: Connection) -> bool:
    """Load the current client certificate into the connection's TLS context (for new
    handshakes); False when there is none to load."""
    cert, key = connection.credentials.client_certificate()
    if not cert or not isinstance(connection.ssl, ssl.SSLContext):
        return False
    connection.ssl.load_cert_chain(cert, keyfile=key)
    return True


def _in_cluster(settings: KubernetesSettings) -> bool:
    named = settings.kubeconfig is not None or settings.context is not None
    return not named and "KUBERNETES_SERVICE_HOST" in os.environ


def _ssl_context(configuration: Any) -> ssl.SSLContext | bool:
    if not configuration.verify_ssl:
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
    return context
