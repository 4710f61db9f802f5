"""Watch events that keep coming are read together, at the batch window's moments.

Each read of a watch wakes the process; at a steady trickle of events that is one wake-up
per event, and the wake-up costs more than the event. With a batch window the kernel does
not wake the informer after a read until the next multiple of the window on the event loop's
clock (or until 128 KiB wait in the socket), and what came meanwhile is read in one go.
Virtual time: the moments below are exact.
"""

from __future__ import annotations

import asyncio

import pytest

from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Job
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.simulation import SimulatedCluster
from tests.kube.test_informer import job, running, until

pytestmark = pytest.mark.looptime

WINDOW = 1.0


class Moments:
    """The loop time at which the informer reported each object added."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def __call__(self, kind: str, old: Job | None, new: Job | None) -> None:
        if kind == "ADDED" and new is not None:
            self.at[new.metadata.name] = asyncio.get_running_loop().time()


async def _send(sim: SimulatedCluster, names: list[str], *, every: float | None,
                annotations: dict[str, str] | None = None) -> dict[str, float]:
    """A Job per name, `every` seconds apart (None: all at once); when each was created."""
    loop = asyncio.get_running_loop()
    created: dict[str, float] = {}
    for name in names:
        obj = job(name)
        if annotations:
            obj["metadata"]["annotations"] = annotations  # type: ignore[index]
        sim.create(obj)
        created[name] = loop.time()
        if every is not None:
            await asyncio.sleep(every)
    return created


async def _moments(sim: SimulatedCluster, kube: Kube, window: float, names: list[str], *,
                   every: float | None, annotations: dict[str, str] | None = None,
                   ) -> tuple[dict[str, float], dict[str, float]]:
    """When each Job was created, and when the informer reported it added."""
    informer = Informer(kube=kube, resource=JOBS, record=Job, batch_window=window)
    moments = Moments()
    informer.subscribe(moments)
    async with running(informer):
        loop = asyncio.get_running_loop()
        # Start just after a window's moment, so that a short trickle falls inside one window.
        await asyncio.sleep(WINDOW - loop.time() % WINDOW + 0.01)
        created = await _send(sim, names, every=every, annotations=annotations)
        await until(lambda: len(moments.at) == len(names))
    return created, moments.at


async def test_events_that_keep_coming_are_applied_together_at_the_next_window(sim, kube):
    names = [f"trickle-{index}" for index in range(5)]
    _, at = await _moments(sim, kube, WINDOW, names, every=0.1)
    first = at[names[0]]
    # The first after a quiet spell is read at once; the others wait for the window's end
    # and are read in one go.
    later = {at[name] for name in names[1:]}
    assert len(later) == 1
    (moment,) = later
    assert moment > first
    assert moment % WINDOW == pytest.approx(0, abs=1e-6) or moment % WINDOW == pytest.approx(
        WINDOW, abs=1e-6)


async def test_without_a_window_each_event_is_read_as_it_comes(sim, kube):
    names = [f"trickle-{index}" for index in range(5)]
    _, at = await _moments(sim, kube, 0.0, names, every=0.1)
    assert len({at[name] for name in names}) == len(names)


async def test_a_burst_larger_than_one_read_is_read_through_without_waiting_between_reads(
        sim, kube):
    # About 400 KB of events at once: more than the transport reads in one go (256 KiB).
    big = {f"k{index}": "v" * 200 for index in range(20)}
    names = [f"burst-{index}" for index in range(100)]
    _, at = await _moments(sim, kube, WINDOW, names, every=None, annotations=big)
    spread = max(at.values()) - min(at.values())
    # A pause after every read would spread them over several windows.
    assert spread <= WINDOW


async def test_a_stream_too_busy_to_wait_a_whole_window_is_held_for_less(sim, kube):
    # About 4 MB a second: a whole window of it would fill the socket and block the server.
    big = {f"k{index}": "v" * 2000 for index in range(20)}
    names = [f"busy-{index}" for index in range(60)]
    created, at = await _moments(sim, kube, WINDOW, names, every=0.01, annotations=big)
    # The reader is woken once 128 KiB wait, long before the window's moment.
    delays = [at[name] - created[name] for name in names[len(names) // 2:]]
    assert max(delays) <= WINDOW / 2
