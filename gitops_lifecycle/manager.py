"""Runs the daemon's components as tasks, stops them in reverse order, reports crashes."""

from __future__ import annotations

import asyncio
from typing import Protocol

from gitops_lifecycle import logs
from gitops_lifecycle.health import Check, Health

log = logs.get("manager")


class Component(Protocol):
    """A long-running part of the daemon: `run` returns only when cancelled."""

    name: str

    async def run(self) -> None: ...


class ComponentCrashedError(Exception):
    """A component's `run` returned or raised while the daemon was running."""


class Manager:
    """Starts components in the order added and stops them in reverse within a grace period."""

    def __init__(self, *, health: Health, grace_period: float) -> None:
        self._health = health
        self._grace_period = grace_period
        self._components: list[Component] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._crashed: asyncio.Queue[str] = asyncio.Queue()

    def add(self, component: Component) -> None:
        """Run `component` after those added before it; its task must stay alive."""
        self._components.append(component)
        self._health.liveness(f"component:{component.name}", self._alive(component.name))

    async def run(self, stop: asyncio.Event) -> int:
        """Run until `stop` is set (exit 0) or a component dies (exit 1)."""
        for component in self._components:
            self._tasks[component.name] = asyncio.create_task(
                self._supervise(component), name=component.name
            )
            await asyncio.sleep(0)  # let it start before the next one
        log.info("started", components=list(self._tasks))
        stopping = asyncio.create_task(stop.wait())
        crashed = asyncio.create_task(self._crashed.get())
        done, _ = await asyncio.wait({stopping, crashed}, return_when=asyncio.FIRST_COMPLETED)
        failed = crashed.result() if crashed in done else None
        stopping.cancel()
        crashed.cancel()
        await self._stop()
        if failed is not None:
            log.error("exiting because a component died", component=failed)
            return 1
        log.info("stopped")
        return 0

    async def _supervise(self, component: Component) -> None:
        try:
            await component.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("component crashed", component=component.name)
        else:
            log.error("component exited unexpectedly", component=component.name)
        self._crashed.put_nowait(component.name)

    async def _stop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace_period
        for name, task in reversed(self._tasks.items()):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
            if not done:
                log.error("component did not stop within the grace period", component=name)

    def _alive(self, name: str) -> Check:
        def check() -> str | None:
            task = self._tasks.get(name)
            if task is None:
                return "not started"
            return "task has ended" if task.done() else None

        return check

