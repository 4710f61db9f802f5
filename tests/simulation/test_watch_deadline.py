"""A watch ends at its timeout under virtual time, whatever float remainder its deadline has."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster

TIMEOUT = 30
TICK = 1e-6
"""looptime's default resolution: its loop time is a whole number of these."""


def off_grid_start(after: float) -> float:
    """A loop time from which `start + TIMEOUT` lies a float hair past the tick it rounds to."""
    tick = round(after / TICK) + 1
    while (tick * TICK + TIMEOUT) - (tick + round(TIMEOUT / TICK)) / round(1 / TICK) <= 0:
        tick += 1
    return tick / round(1 / TICK)


@pytest.mark.looptime
@pytest.mark.timeout(60, method="thread")  # the failure this guards against freezes loop time
async def test_a_watch_whose_deadline_falls_between_loop_ticks_still_ends() -> None:
    async with SimulatedCluster(clock=SimClock()) as sim, aiohttp.ClientSession(
        base_url=sim.url
    ) as session:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            await asyncio.sleep(off_grid_start(loop.time()) - loop.time())
            began = loop.time()
            async with session.get("/apis/batch/v1/jobs", params={
                    "watch": "1", "timeoutSeconds": str(TIMEOUT)}) as response:
                assert await response.read() == b""
            assert loop.time() - began == pytest.approx(TIMEOUT, abs=1e-3)
