"""The control endpoint under /simulation/: faults, the request log and the clock over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from sim_objects import job

from gitops_lifecycle.clock import Clock
from gitops_lifecycle.simulation import SimulatedCluster

JOBS = "/apis/batch/v1/namespaces/default/jobs"


async def _post(http: aiohttp.ClientSession, path: str, body: Any = None) -> Any:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def _statuses(http: aiohttp.ClientSession, path: str, n: int) -> list[int]:
    statuses = []
    for _ in range(n):
        async with http.get(path) as response:
            statuses.append(response.status)
    return statuses


async def test_a_fault_for_n_requests_answers_them_with_its_status_and_retry_after(
    http: aiohttp.ClientSession,
) -> None:
    status, rule = await _post(http, "/simulation/faults", {
        "method": "GET", "path": "/jobs", "status": 429, "retryAfter": 7, "count": 2})
    async with http.get(JOBS) as first:
        retry_after = first.headers.get("Retry-After")
    later = await _statuses(http, JOBS, 2)
    other = await _statuses(http, "/api/v1/pods", 1)
    async with http.get("/simulation/faults") as response:
        left = (await response.json())["items"]
    assert (status, rule["status"], rule["remaining"]) == (201, 429, 2)
    assert (first.status, retry_after, later, other) == (429, "7", [429, 200], [200])
    assert left == []


async def test_a_fault_for_t_seconds_ends_when_the_cluster_clock_passes_them(
    sim: SimulatedCluster, http: aiohttp.ClientSession,
) -> None:
    await _post(http, "/simulation/faults", {"status": 503, "seconds": 60})
    during = await _statuses(http, JOBS, 3)
    await _post(http, "/simulation/clock/advance", {"seconds": 60})
    after = await _statuses(http, JOBS, 1)
    assert (during, after) == ([503, 503, 503], [200])


@pytest.mark.looptime
async def test_a_latency_fault_delays_only_matching_requests(
    sim: SimulatedCluster, http: aiohttp.ClientSession,
) -> None:
    await _post(http, "/simulation/faults", {"path": "/jobs", "latency": 4})
    loop = asyncio.get_running_loop()
    began = loop.time()
    await _statuses(http, "/api/v1/pods", 1)
    unaffected = loop.time() - began
    await _statuses(http, JOBS, 1)
    delayed = loop.time() - began - unaffected
    assert unaffected < 1
    assert 4 <= delayed < 5


@pytest.mark.looptime
async def test_a_stalled_request_is_answered_once_its_fault_is_deleted(
    http: aiohttp.ClientSession,
) -> None:
    _, rule = await _post(http, "/simulation/faults", {"method": "GET", "stall": True})
    stalled = asyncio.create_task(_statuses(http, JOBS, 1))
    await asyncio.sleep(100)
    held = not stalled.done()
    async with http.delete(f"/simulation/faults/{rule['id']}") as response:
        removed = response.status
    assert held
    assert removed == 200
    assert await stalled == [200]


async def test_a_drop_fault_cuts_the_connection_without_an_answer(
    http: aiohttp.ClientSession,
) -> None:
    await _post(http, "/simulation/faults", {"path": "/jobs", "drop": True})
    with pytest.raises(aiohttp.ClientConnectionError):
        await _statuses(http, JOBS, 1)
    async with http.delete("/simulation/faults") as response:
        removed = await response.json()
    assert removed == {"removed": 1}
    assert await _statuses(http, JOBS, 1) == [200]


async def test_open_watches_are_dropped_and_history_compacted_on_request(
    sim: SimulatedCluster, http: aiohttp.ClientSession,
) -> None:
    created = sim.create(job("a"))
    old_rv = created["metadata"]["resourceVersion"]
    sim.create(job("b"))
    async with http.get(JOBS, params={"watch": "1", "resourceVersion": old_rv}) as watch:
        await watch.content.readline()
        _, dropped = await _post(http, "/simulation/watches/drop")
        with pytest.raises(aiohttp.ClientPayloadError):
            await watch.content.read()
    _, compacted = await _post(http, "/simulation/compact")
    async with http.get(JOBS, params={"watch": "1", "resourceVersion": old_rv}) as watch:
        expired = await watch.json(content_type=None)
    assert dropped == {"dropped": 1}
    assert compacted == {"resourceVersion": str(sim.resource_version)}
    assert (expired["type"], expired["object"]["code"]) == ("ERROR", 410)


async def test_the_request_log_is_read_from_an_index_and_leaves_out_control_calls(
    http: aiohttp.ClientSession,
) -> None:
    await _statuses(http, JOBS, 1)
    await _statuses(http, "/apis/batch/v1/namespaces/default/jobs/missing", 1)
    async with http.get("/simulation/requests", params={"since": "1"}) as response:
        log = await response.json()
    async with http.get("/simulation/requests", params={"since": str(log["next"])}) as more:
        nothing = await more.json()
    assert [(r["index"], r["method"], r["path"], r["status"], r["verb"]) for r in log["items"]] \
        == [(1, "GET", "/apis/batch/v1/namespaces/default/jobs/missing", 404, "get-or-list")]
    assert (log["next"], nothing) == (2, {"items": [], "next": 2})


async def test_the_clock_pauses_advances_and_resumes_on_request(
    http: aiohttp.ClientSession,
) -> None:
    _, paused = await _post(http, "/simulation/clock/pause")
    await asyncio.sleep(0.05)
    async with http.get("/simulation/clock") as response:
        still = await response.json()
    _, advanced = await _post(http, "/simulation/clock/advance", {"seconds": 3600})
    _, resumed = await _post(http, "/simulation/clock/resume")
    assert paused["paused"]
    assert still["now"] == paused["now"]
    assert advanced["now"] == paused["now"] + 3600
    assert not resumed["paused"]
    assert resumed["now"] >= advanced["now"]


@pytest.mark.parametrize(("body", "named"), [
    ({"path": "/jobs"}, "at least one of"),
    ({"status": 503, "cout": 3}, "'cout'"),
    ({"status": "503"}, "'status'"),
    ({"status": 200}, "'status'"),
    ({"latency": 1, "path": "("}, "'path'"),
])
async def test_a_bad_fault_rule_is_refused_naming_what_is_wrong(
    http: aiohttp.ClientSession, body: dict[str, Any], named: str,
) -> None:
    status, answer = await _post(http, "/simulation/faults", body)
    assert status == 400
    assert named in answer["message"]


async def test_a_cluster_on_the_real_clock_refuses_to_move_it() -> None:
    async with SimulatedCluster(clock=Clock(), kubelet=False) as sim, \
            aiohttp.ClientSession(base_url=sim.url) as http:
        status, answer = await _post(http, "/simulation/clock/advance", {"seconds": 1})
    assert status == 400
    assert "real clock" in answer["message"]
