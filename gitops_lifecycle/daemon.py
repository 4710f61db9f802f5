"""Assembles the daemon: the observability server first, then the controllers."""

from __future__ import annotations

import asyncio
import signal

from gitops_lifecycle import metrics
from gitops_lifecycle.health import Health
from gitops_lifecycle.manager import Component, Manager
from gitops_lifecycle.server import ObservabilityServer
from gitops_lifecycle.settings import Settings


def components(settings: Settings, health: Health) -> list[Component]:
    """Everything the daemon runs, in start order (the server first)."""
    return [ObservabilityServer(settings=settings.server, health=health)]


async def run(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop`); the exit code says whether a component died."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics.initialise()
    health = Health()
    manager = Manager(health=health, grace_period=settings.grace_period)
    for component in components(settings, health):
        manager.add(component)
    return await manager.run(stop)
