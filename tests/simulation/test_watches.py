"""WATCH conformance: changes from a resourceVersion, bookmarks, timeouts and 410 Gone.

Follows the Kubernetes API concepts: "Efficient detection of changes", "Watch bookmarks" and
"Resource versions" (https://kubernetes.io/docs/reference/using-api/api-concepts/).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from sim_objects import job

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster


async def _events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    return [json.loads(await response.content.readline()) for _ in range(count)]


async def test_a_watch_from_the_lists_resource_version_sees_each_later_change_in_order(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """Efficient detection of changes: list, then watch from the list's resourceVersion."""
    sim.create(job("old"))
    batch = client.BatchV1Api(api)
    listed = await batch.list_namespaced_job("default")
    sim.create(job("new"))
    sim.patch("batch/v1", "Job", "new", {"metadata": {"labels": {"a": "b"}}}, namespace="default")
    sim.delete("batch/v1", "Job", "old", namespace="default")
    seen = []
    async with watch.Watch() as stream:
        async for event in stream.stream(batch.list_namespaced_job, "default",
                                         resource_version=listed.metadata.resource_version,
                                         timeout_seconds=1):
            seen.append((event["type"], event["object"].metadata.name,
                         int(event["object"].metadata.resource_version)))
            if len(seen) == 3:
                break
    assert [(kind, name) for kind, name, _ in seen] == [
        ("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "old")]
    assert [rv for _, _, rv in seen] == sorted(rv for _, _, rv in seen)


async def test_a_watch_from_zero_starts_with_the_current_state(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """Resource versions: watch with resourceVersion 0 replays current state as ADDED."""
    sim.create(job("a"))
    sim.create(job("b"))
    async with http.get("/apis/batch/v1/jobs", params={"watch": "1", "resourceVersion": "0"}) \
            as response:
        events = await _events(response, 2)
        sim.create(job("c"))
        events += await _events(response, 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    assert events[0]["object"]["kind"] == "Job"


async def test_a_watch_older_than_the_history_gets_a_410_error_event(
    http: aiohttp.ClientSession,
) -> None:
    """Efficient detection of changes: a too old resourceVersion is 410 Gone as an event."""
    async with SimulatedCluster(history=3) as small:
        for index in range(6):
            small.create(job(f"job-{index}"))
        async with aiohttp.ClientSession(base_url=small.url) as session, session.get(
            "/apis/batch/v1/jobs", params={"watch": "true", "resourceVersion": "1"}
        ) as response:
            event = json.loads(await response.content.readline())
            tail = await response.content.read()
    assert response.status == 200
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert "too old resource version" in event["object"]["message"]
    assert tail == b""


async def test_kubernetes_asyncio_raises_410_after_compaction(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    sim.create(job("a"))
    listed = await client.BatchV1Api(api).list_namespaced_job("default")
    sim.create(job("b"))
    sim.faults.compact()
    async def drain() -> None:
        async with watch.Watch() as stream:
            async for _ in stream.stream(client.BatchV1Api(api).list_namespaced_job, "default",
                                         resource_version=listed.metadata.resource_version,
                                         timeout_seconds=5):
                pass

    with pytest.raises(ApiException) as caught:
        await drain()
    assert caught.value.status == 410


@pytest.mark.looptime
async def test_bookmarks_carry_the_latest_resource_version_when_asked_for() -> None:
    """Watch bookmarks: BOOKMARK events hold only metadata.resourceVersion."""
    async with SimulatedCluster(clock=SimClock(), bookmark_interval=5) as sim:
        sim.create(job("a"))
        start = sim.resource_version
        sim.create({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "elsewhere", "namespace": "default"}})
        async with aiohttp.ClientSession(base_url=sim.url) as session, session.get(
            "/apis/batch/v1/jobs", params={"watch": "1", "resourceVersion": str(start),
                                           "allowWatchBookmarks": "true"}
        ) as response:
            event = json.loads(await response.content.readline())
    assert event["type"] == "BOOKMARK"
    assert event["object"]["metadata"] == {"resourceVersion": str(start + 1)}


@pytest.mark.looptime
async def test_a_watch_ends_after_its_timeout_with_a_final_bookmark() -> None:
    async with SimulatedCluster(bookmark_interval=600) as sim, aiohttp.ClientSession(
        base_url=sim.url
    ) as session:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with session.get("/apis/batch/v1/jobs", params={
            "watch": "1", "timeoutSeconds": "30", "allowWatchBookmarks": "1"}) as response:
            body = await response.content.read()
        elapsed = loop.time() - began
    assert [json.loads(line)["type"] for line in body.splitlines()] == ["BOOKMARK"]
    assert 30 <= elapsed < 31


async def test_an_object_leaving_a_label_selection_arrives_as_deleted(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """Efficient detection of changes with a selector: leaving it is a DELETED event."""
    sim.create(job("a", metadata={"labels": {"keep": "yes"}}))
    start = sim.resource_version
    sim.create(job("b"))
    sim.patch("batch/v1", "Job", "b", {"metadata": {"labels": {"keep": "yes"}}},
              namespace="default")
    sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"keep": None}}},
              namespace="default")
    async with http.get("/apis/batch/v1/namespaces/default/jobs", params={
        "watch": "1", "resourceVersion": str(start), "labelSelector": "keep=yes"}) as response:
        events = await _events(response, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"), ("DELETED", "a")]


async def test_dropped_watches_end_the_stream_abruptly(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    async with http.get("/apis/batch/v1/jobs", params={"watch": "1"}) as response:
        sim.create(job("a"))
        first = await response.content.readline()
        assert sim.faults.drop_watches() == 1
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.content.read()
    assert json.loads(first)["type"] == "ADDED"


async def test_a_namespaced_watch_sees_only_its_namespace(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    async with http.get("/apis/batch/v1/namespaces/b/jobs", params={"watch": "1"}) as response:
        sim.create(job("x", "a"))
        sim.create(job("y", "b"))
        events = await _events(response, 1)
    assert events[0]["object"]["metadata"]["namespace"] == "b"
