"""A client that goes away in the middle of a watch is normal, not an error."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from gitops_lifecycle.simulation import SimulatedCluster


async def test_a_watcher_that_disconnects_leaves_no_error_in_the_log(
    sim: SimulatedCluster, caplog: pytest.LogCaptureFixture
) -> None:
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}})
    caplog.set_level(logging.DEBUG)
    url = f"{sim.url}/api/v1/namespaces/ops/configmaps?watch=1&allowWatchBookmarks=true"
    async with aiohttp.ClientSession() as session:
        response = await session.get(url)
        sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "first", "namespace": "ops"}})
        await response.content.readline()
        response.connection.transport.abort()  # the client is killed
    for index in range(20):
        sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"after-{index}", "namespace": "ops"}})
        await asyncio.sleep(0)
    await asyncio.sleep(0.2)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == []
