"""An orphan is deleted only after `maxAge` of real observation, whatever the wall clock does.

The first-seen time in the ConfigMap is wall time, written by whichever replica led: a wall
clock stepped forward (NTP after a drift, a VM resumed) or a replica whose clock runs ahead
must not make an orphan due early. What counts is the time this installation has watched it
orphaned, measured on each process's monotonic clock and carried across restarts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import running
from tests.discovery.test_orphans import (
    first_seen,
    kept_then_deleted,
    orphan,
    orphan_settings,
    resync,
)

pytestmark = pytest.mark.looptime

HOUR = 3600.0


async def test_a_wall_clock_stepped_forward_does_not_make_an_orphan_due(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    config = orphan_settings(sim_authentik)  # maxAge 1h, resync every 5m
    assert isinstance(sim.clock, SimClock)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await run.until(lambda: first_seen(sim))
        sim.clock.step(2 * HOUR)  # the wall clock jumps; no time passes
        await kept_then_deleted(run, sim, sim_authentik, resyncs=11)  # 55 minutes, then 60


async def test_a_new_leader_whose_clock_runs_ahead_does_not_delete_early(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    config = orphan_settings(sim_authentik)
    assert isinstance(sim.clock, SimClock)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await run.until(lambda: first_seen(sim))
        for _ in range(6):  # 30 minutes
            await resync(run, sim)
    sim.clock.step(3 * HOUR)  # the next replica's clock is hours ahead
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await run.until(lambda: run.discovery.orphans.last == "nothing_due")
        await kept_then_deleted(run, sim, sim_authentik, resyncs=5)  # 55 minutes in all, then 60


async def test_a_wall_clock_stepped_back_does_not_delay_an_orphan_for_ever(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    orphan(sim_authentik, "old-app")
    config = orphan_settings(sim_authentik)
    assert isinstance(sim.clock, SimClock)
    async with running(sim, sim_authentik, tmp_path, config) as run:
        await run.until(lambda: first_seen(sim))
        sim.clock.step(-5 * HOUR)
        for _ in range(12):
            await resync(run, sim)
        await run.until(lambda: sim_authentik.provider("old-app") is None)
