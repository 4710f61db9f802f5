"""One aiohttp server for `/metrics`, `/healthz` (liveness) and `/readyz` (readiness)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from gitops_lifecycle import logs
from gitops_lifecycle.health import Health
from gitops_lifecycle.settings import ServerSettings

log = logs.get("server")


class ObservabilityServer:
    """Serves metrics and health; started first and stopped last by the manager."""

    name = "server"

    def __init__(
        self, *, settings: ServerSettings, health: Health, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self._settings = settings
        self._health = health
        self._registry = registry
        self.started = asyncio.Event()
        self.port: int | None = None

    def app(self) -> web.Application:
        """The routes, for embedding and for tests."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._probe("livez"))
        app.router.add_get("/livez", self._probe("livez"))
        app.router.add_get("/readyz", self._probe("readyz"))
        return app

    async def run(self) -> None:
        """Serve until cancelled."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._settings.host, self._settings.port)
            await site.start()
            server = site._server  # noqa: SLF001 - the only way to learn a port chosen by the OS
            assert isinstance(server, asyncio.Server)
            self.port = server.sockets[0].getsockname()[1]
            log.info("serving metrics and health", host=self._settings.host, port=self.port)
            self.started.set()
            await asyncio.Future()  # until cancelled
        finally:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = await asyncio.to_thread(encoder, self._registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    def _probe(self, kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            healthy, body = self._health.report(kind)
            return web.Response(text=body, status=200 if healthy else 503)

        return handler
