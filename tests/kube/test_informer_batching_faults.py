"""Faults that strike while a watch's reading is held: nothing is lost, nothing stays stale.

While events trickle in, a watch is read only at the batch window's moments. A watch the
server cuts meanwhile, a history compacted meanwhile (so that watching again answers 410 and
the informer lists again), and an informer stopped meanwhile must each end as without the
window: the cache equal to the cluster, every change reported once and in order, within a
window of it happening; the watch's connection given up at once.
"""

from __future__ import annotations

import asyncio

import pytest

from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Job
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.simulation import SimulatedCluster
from tests.kube.test_informer import Recorder, job, running, until

pytestmark = pytest.mark.looptime

WINDOW = 5.0  # the longest `kubernetes.watchBatchWindow` allows


def _cluster(sim: SimulatedCluster) -> dict[str, str]:
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}":
            o["metadata"]["resourceVersion"] for o in sim.list("batch/v1", "Job")}


def _cache(informer: Informer[Job]) -> dict[str, str]:
    return {job.key: job.metadata.resource_version for job in informer.values()}


async def _into_a_hold(sim: SimulatedCluster, recorder: Recorder, name: str) -> None:
    """Just after a window's moment, an event read at once: the reading is held now."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(WINDOW - loop.time() % WINDOW + 0.01)
    sim.create(job(name))
    await until(lambda: f"default/{name}" in recorder.of("ADDED"))


@pytest.mark.parametrize("graceful", [True, False], ids=["ended", "cut"])
async def test_a_watch_ended_and_compacted_during_a_hold_leaves_no_stale_object(
        sim: SimulatedCluster, kube: Kube, graceful: bool) -> None:
    for name in ("a", "b", "c"):
        sim.create(job(name))
    informer = Informer(kube=kube, resource=JOBS, record=Job, batch_window=WINDOW)
    async with running(informer) as recorder:
        await _into_a_hold(sim, recorder, "x")
        loop = asyncio.get_running_loop()
        changed = loop.time()
        sim.delete("batch/v1", "Job", "a", namespace="default")
        sim.patch("batch/v1", "Job", "b", {"metadata": {"labels": {"x": "1"}}},
                  namespace="default")
        sim.create(job("y"))
        sim.faults.compact()  # watching again from the informer's resourceVersion: 410
        sim.faults.drop_watches(graceful=graceful)
        sim.delete("batch/v1", "Job", "c", namespace="default")  # between watch and list
        await until(lambda: _cache(informer) == _cluster(sim))
        assert loop.time() - changed <= WINDOW + 1
        assert {"default/a", "default/c"} <= set(recorder.of("DELETED"))
        assert "default/y" in recorder.of("ADDED")
        # Each change reported once: no object added twice without a deletion between.
        live: set[str] = set()
        for kind, key, _ in recorder.changes:
            if kind == "ADDED":
                assert key not in live, recorder.changes
                live.add(key)
            elif kind == "DELETED":
                live.discard(key)
        assert live == set(_cluster(sim))


async def test_an_informer_stopped_during_a_hold_stops_at_once_and_gives_up_its_watch(
        sim: SimulatedCluster, kube: Kube) -> None:
    informer = Informer(kube=kube, resource=JOBS, record=Job, batch_window=WINDOW)
    recorder = Recorder()
    informer.subscribe(recorder)
    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(informer.has_synced.wait(), 30)
    await _into_a_hold(sim, recorder, "x")
    sim.create(job("held"))  # waits in the socket for the window's moment
    loop = asyncio.get_running_loop()
    stopped = loop.time()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert loop.time() - stopped < 0.01
    assert kube.connections_in_use()["watches"] == 0
    # The client goes on: a new informer on the same connections sees the held object.
    again = Informer(kube=kube, resource=JOBS, record=Job, batch_window=WINDOW)
    async with running(again):
        assert again.get("default/held") is not None
