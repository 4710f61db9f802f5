"""The simulated Authentik's control endpoint: faults and tokens from outside the process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from authentik_http import PROXY, call, session

from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

VERSION = "/api/v3/admin/version/"


@pytest.fixture
async def control(sim_authentik: SimulatedAuthentik) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sim_authentik.url) as client:
        yield client


async def test_a_fault_rule_fails_matching_requests_until_its_count_runs_out(
    sim_authentik: SimulatedAuthentik, control: aiohttp.ClientSession
) -> None:
    added, rule = await call(control, "POST", "/simulation/faults",
                             json={"status": 502, "count": 2, "path": "page=2"})
    async with session(sim_authentik) as http:
        statuses = [(await call(http, "GET", PROXY, params={"page": 2}))[0] for _ in range(3)]
    assert (added, rule) == (201, {"id": 1})
    assert statuses == [502, 502, 404]


async def test_down_and_up_from_outside(
    sim_authentik: SimulatedAuthentik, control: aiohttp.ClientSession
) -> None:
    await call(control, "POST", "/simulation/down")
    async with session(sim_authentik) as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await call(http, "GET", VERSION)
        _, state = await call(control, "GET", "/simulation/faults")
        await call(control, "POST", "/simulation/up")
        status, _ = await call(http, "GET", VERSION)
    assert state == {"down": True, "latency": 0.0, "rules": []}
    assert status == 200


async def test_a_rule_without_a_count_lasts_until_deleted(
    sim_authentik: SimulatedAuthentik, control: aiohttp.ClientSession
) -> None:
    _, rule = await call(control, "POST", "/simulation/faults", json={"status": 503})
    async with session(sim_authentik) as http:
        during = [(await call(http, "GET", VERSION))[0] for _ in range(3)]
        deleted, _ = await call(control, "DELETE", f"/simulation/faults/{rule['id']}")
        after, _ = await call(http, "GET", VERSION)
    assert during == [503, 503, 503]
    assert (deleted, after) == (200, 200)


async def test_a_token_is_rotated_and_the_old_one_revoked(
    sim_authentik: SimulatedAuthentik, control: aiohttp.ClientSession
) -> None:
    _, new = await call(control, "POST", "/simulation/tokens", json={"token": "rotated"})
    await call(control, "POST", "/simulation/tokens/revoke", json={"token": sim_authentik.token})
    async with session(sim_authentik) as old, session(sim_authentik, "rotated") as rotated:
        refused, _ = await call(old, "GET", VERSION)
        accepted, _ = await call(rotated, "GET", VERSION)
    assert new == {"token": "rotated"}
    assert (refused, accepted) == (403, 200)


async def test_the_log_and_the_objects_are_readable_and_control_calls_are_not_logged(
    sim_authentik: SimulatedAuthentik, control: aiohttp.ClientSession
) -> None:
    sim_authentik.create_provider("a", "https://a.example.com")
    async with session(sim_authentik) as http:
        await call(http, "GET", PROXY)
    _, first = await call(control, "GET", "/simulation/requests")
    _, later = await call(control, "GET", "/simulation/requests", params={"since": first["next"]})
    _, objects = await call(control, "GET", "/simulation/objects")
    assert [(r["method"], r["path"], r["status"]) for r in first["items"]] == [
        ("GET", PROXY, 200)]
    assert later == {"items": [], "next": 1}
    assert [p["name"] for p in objects["providers"]] == ["a"]
    assert [o["name"] for o in objects["outposts"]] == ["authentik Embedded Outpost"]


async def test_a_bad_control_request_is_400_with_a_message(
    control: aiohttp.ClientSession
) -> None:
    status, body = await call(control, "POST", "/simulation/faults", json={"count": 1})
    assert (status, body) == (400, {"message": "give one of status and latency"})


async def test_a_latency_rule_from_outside_is_listed_and_deleted(
    control: aiohttp.ClientSession
) -> None:
    added, rule = await call(control, "POST", "/simulation/faults",
                             json={"latency": 5, "path": "outposts"})
    _, state = await call(control, "GET", "/simulation/faults")
    await call(control, "DELETE", f"/simulation/faults/{rule['id']}")
    _, after = await call(control, "GET", "/simulation/faults")
    assert added == 201
    assert state["rules"] == [{"id": rule["id"], "status": None, "latency": 5.0,
                               "method": None, "path": "outposts", "count": None}]
    assert after["rules"] == []
