"""Fault injection and the request log, as the informer and cleanup tests use them."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from sim_objects import job

from gitops_lifecycle.simulation import SimulatedCluster


async def test_the_next_requests_fail_with_429_and_retry_after_then_succeed(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_next(2, 429, method="GET", path=r"/jobs", retry_after=7)
    statuses, retry = [], []
    for _ in range(3):
        response = await http.get("/apis/batch/v1/jobs")
        statuses.append(response.status)
        retry.append(response.headers.get("Retry-After"))
    assert statuses == [429, 429, 200]
    assert retry[:2] == ["7", "7"]


async def test_failures_only_hit_matching_requests(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    sim.create(job("a"))
    sim.faults.fail_next(1, 503, method="DELETE")
    await client.BatchV1Api(api).read_namespaced_job("a", "default")
    with pytest.raises(ApiException) as caught:
        await client.BatchV1Api(api).delete_namespaced_job("a", "default")
    assert caught.value.status == 503


async def test_a_path_predicate_can_be_a_function(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_next(1, 500, path=lambda request: "limit" in request.query)
    plain = await http.get("/api/v1/pods")
    chunked = await http.get("/api/v1/pods", params={"limit": "10"})
    assert (plain.status, chunked.status) == (200, 500)


@pytest.mark.looptime
async def test_added_latency_delays_every_answer(sim: SimulatedCluster) -> None:
    sim.faults.latency(2.5)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base_url=sim.url) as session:
        began = loop.time()
        await session.get("/api/v1/pods")
        elapsed = loop.time() - began
    assert 2.5 <= elapsed < 3


async def test_the_request_log_records_method_path_query_status_and_clock_time(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    sim.clock.advance(100)
    await http.get("/apis/batch/v1/namespaces/x/jobs/missing")
    await http.get("/apis/batch/v1/jobs", params={"limit": "5"})
    records = [(r.method, r.path, r.query, r.status) for r in sim.requests]
    assert records == [
        ("GET", "/apis/batch/v1/namespaces/x/jobs/missing", {}, 404),
        ("GET", "/apis/batch/v1/jobs", {"limit": "5"}, 200),
    ]
    assert sim.requests[0].time >= 1_700_000_100
