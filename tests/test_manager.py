"""The manager starts components in order, stops them in reverse, and reports crashes."""

from __future__ import annotations

import asyncio

import pytest

from gitops_lifecycle import logs
from gitops_lifecycle.health import Health
from gitops_lifecycle.manager import Manager


class Recorder:
    def __init__(self, name: str, journal: list[str], *, crash_after: float | None = None) -> None:
        self.name = name
        self.journal = journal
        self.crash_after = crash_after

    async def run(self) -> None:
        self.journal.append(f"start {self.name}")
        try:
            if self.crash_after is not None:
                await asyncio.sleep(self.crash_after)
                raise RuntimeError("lost the connection")
            await asyncio.Future()
        finally:
            self.journal.append(f"stop {self.name}")


class Stubborn:
    """Takes far longer than the grace period to honour cancellation."""

    name = "stubborn"

    async def run(self) -> None:
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            await asyncio.sleep(5)
            raise


@pytest.mark.looptime
async def test_components_stop_in_reverse_order_on_stop() -> None:
    journal: list[str] = []
    manager = Manager(health=Health(), grace_period=10)
    for name in ("server", "informers", "controllers"):
        manager.add(Recorder(name, journal))
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(5, stop.set)
    assert await manager.run(stop) == 0
    assert journal == [
        "start server", "start informers", "start controllers",
        "stop controllers", "stop informers", "stop server",
    ]


@pytest.mark.looptime
async def test_a_crashing_component_stops_the_rest_and_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("info", "json")
    journal: list[str] = []
    health = Health()
    manager = Manager(health=health, grace_period=10)
    manager.add(Recorder("server", journal))
    manager.add(Recorder("watcher", journal, crash_after=3))
    assert await manager.run(asyncio.Event()) == 1
    assert journal[-1] == "stop server"
    err = capsys.readouterr().err
    assert "watcher" in err
    assert "exiting because a component died" in err


@pytest.mark.looptime
async def test_liveness_fails_when_a_component_task_has_ended() -> None:
    journal: list[str] = []
    health = Health()
    manager = Manager(health=health, grace_period=1)
    manager.add(Recorder("watcher", journal, crash_after=3))
    task = asyncio.create_task(manager.run(asyncio.Event()))
    await asyncio.sleep(1)
    assert health.report("livez")[0]
    await task
    healthy, body = health.report("livez")
    assert not healthy
    assert "component:watcher failed: task has ended" in body


@pytest.mark.looptime
async def test_a_component_ignoring_cancellation_is_abandoned_after_the_grace_period() -> None:
    manager = Manager(health=Health(), grace_period=2)
    manager.add(Stubborn())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(1, stop.set)
    started = loop.time()
    assert await manager.run(stop) == 0
    assert loop.time() - started == pytest.approx(3, abs=0.1)
    await asyncio.sleep(5)  # let the abandoned task finish before the loop closes
