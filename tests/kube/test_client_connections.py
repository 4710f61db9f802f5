"""Connections to the API server: watches never starve requests, nor requests each other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Job, Object
from gitops_lifecycle.kube.resources import JOBS, NAMESPACES
from gitops_lifecycle.settings import WatchScope
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime


@contextlib.asynccontextmanager
async def watching(kube: Kube, namespaces: list[str]) -> AsyncIterator[None]:
    """One open watch per namespace, each holding its connection, as informers do."""

    async def watch(namespace: str) -> None:
        async for _ in kube.watch(JOBS, record=Job, resource_version="1", namespace=namespace,
                                  timeout_seconds=600):
            pass

    tasks: list[asyncio.Task[None]] = []
    try:
        # In batches: 150 connects at once overflow the listen backlog, and a SYN retried
        # after a real second lets virtual time run far ahead.
        for start in range(0, len(namespaces), 50):
            batch = namespaces[start : start + 50]
            tasks += [asyncio.create_task(watch(namespace)) for namespace in batch]
            async with asyncio.timeout(60):
                while kube.connections_in_use()["watches"] < len(tasks):
                    await asyncio.sleep(0.1)
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_get_is_answered_while_150_watches_are_open(sim: SimulatedCluster,
                                                           kube: Kube) -> None:
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-0"}})
    async with watching(kube, [f"team-{i}" for i in range(150)]):
        loop = asyncio.get_running_loop()
        started = loop.time()
        namespace = await kube.get(NAMESPACES, "team-0", record=Object)
        assert namespace.metadata.name == "team-0"
        assert loop.time() - started < 1
        assert kube.connections_in_use() == {"requests": 0, "watches": 150}


async def test_the_request_timeout_does_not_count_waiting_for_a_connection(
        sim: SimulatedCluster, kube: Kube) -> None:
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-0"}})
    sim.faults.latency(20)  # each answer takes 20 s of the 30 s timeout
    answers = await asyncio.gather(
        *(kube.get(NAMESPACES, "team-0", record=Object) for _ in range(150)),
        return_exceptions=True)
    assert [a for a in answers if isinstance(a, BaseException)] == []


@pytest.mark.parametrize("separate_watches", [10, 200])
async def test_an_informer_of_105_namespaces_leaves_room_for_requests(
        sim: SimulatedCluster, kube: Kube, separate_watches: int) -> None:
    namespaces = [f"team-{i}" for i in range(105)]
    for namespace in namespaces:
        sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    informer = Informer(kube=kube, resource=JOBS, record=Job,
                        namespaces=WatchScope(include=namespaces,
                                              watch_each_up_to=separate_watches))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.has_synced.wait(), 60)
        await asyncio.sleep(5)
        watches = 1 if separate_watches < len(namespaces) else len(namespaces)
        assert len(sim.faults.watchers) == watches
        started = asyncio.get_running_loop().time()
        await kube.get(NAMESPACES, "team-104", record=Object)
        assert asyncio.get_running_loop().time() - started < 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
