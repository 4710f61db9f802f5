"""Fault injection and the request log of the simulated Authentik."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from authentik_http import PROXY, call, provider_body, session

from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

VERSION = "/api/v3/admin/version/"


async def test_down_drops_connections_until_up(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.faults.down()
    async with session(sim_authentik) as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await call(http, "GET", VERSION)
        sim_authentik.faults.up()
        status, _ = await call(http, "GET", VERSION)
    assert status == 200


async def test_stopped_it_refuses_connections_and_started_again_it_keeps_its_objects() -> None:
    authentik = SimulatedAuthentik(validate_schema="off")
    await authentik.start()
    authentik.create_provider("kept", "https://kept.example.com")
    port = int(authentik.url.rsplit(":", 1)[1])
    await authentik.stop()
    async with session(authentik) as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await call(http, "GET", VERSION)
    await authentik.start(port=port)
    try:
        async with session(authentik) as http:
            _, listed = await call(http, "GET", PROXY)
    finally:
        await authentik.stop()
    assert [p["name"] for p in listed["results"]] == ["kept"]


async def test_the_next_matching_requests_fail_with_the_status_given(
    sim_authentik: SimulatedAuthentik
) -> None:
    sim_authentik.faults.fail_next(2, 502, path=r"page=2")
    async with session(sim_authentik) as http:
        statuses = [(await call(http, "GET", PROXY, params={"page": p}))[0]
                    for p in (1, 2, 2, 2)]
    assert statuses == [200, 502, 502, 404]


async def test_fail_all_lasts_until_cleared(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.faults.fail_all(503, method="POST")
    async with session(sim_authentik) as http:
        refused = [(await call(http, "POST", PROXY, json=provider_body(sim_authentik, "a")))[0]
                   for _ in range(3)]
        sim_authentik.faults.clear()
        created, _ = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "a"))
    assert refused == [503, 503, 503]
    assert created == 201


@pytest.mark.looptime
async def test_latency_delays_every_answer(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.faults.latency(4)
    loop = asyncio.get_running_loop()
    async with session(sim_authentik) as http:
        began = loop.time()
        await call(http, "GET", VERSION)
        elapsed = loop.time() - began
    assert 4 <= elapsed < 5


async def test_a_revoked_token_gets_403_and_a_rotated_one_works(
    sim_authentik: SimulatedAuthentik
) -> None:
    rotated = sim_authentik.add_token()
    sim_authentik.faults.revoke_token(sim_authentik.token)
    async with session(sim_authentik) as old, session(sim_authentik, rotated) as new:
        revoked, body = await call(old, "GET", VERSION)
        accepted, _ = await call(new, "GET", VERSION)
    assert (revoked, body) == (403, {"detail": "Token invalid/expired"})
    assert accepted == 200


async def test_the_request_log_keeps_method_path_query_body_status_and_clock_time(
    sim_authentik: SimulatedAuthentik
) -> None:
    sim_authentik.clock.advance(100)
    async with session(sim_authentik) as http:
        await call(http, "GET", PROXY, params={"name__iexact": "a"})
        await call(http, "PATCH", f"{PROXY}7/", json={"mode": "proxy"})
    log = [(r.method, r.path, r.query, r.body, r.status) for r in sim_authentik.requests]
    assert log == [("GET", PROXY, {"name__iexact": "a"}, None, 200),
                   ("PATCH", f"{PROXY}7/", {}, {"mode": "proxy"}, 404)]
    assert [r.method for r in sim_authentik.writes()] == ["PATCH"]
    assert sim_authentik.requests[0].time >= 100


def test_credentials_for_a_separate_daemon_are_written_beside_each_other(
    tmp_path: Path
) -> None:
    authentik = SimulatedAuthentik(token="s3cret", validate_schema="off")
    authentik.url = "http://127.0.0.1:1234"
    written = authentik.write_credentials(tmp_path)
    assert (tmp_path / "authentik-url").read_text() == "http://127.0.0.1:1234\n"
    assert (tmp_path / "authentik-token").read_text() == "s3cret\n"
    assert (tmp_path / "authentik.env").read_text() == (
        "GITOPS_LIFECYCLE_AUTHENTIK__URL=http://127.0.0.1:1234\n"
        f"GITOPS_LIFECYCLE_AUTHENTIK__TOKENFILE={tmp_path / 'authentik-token'}\n")
    assert written["token"].stat().st_mode & 0o077 == 0


@pytest.mark.looptime
async def test_a_slow_rule_delays_only_matching_requests_for_its_count(
    sim_authentik: SimulatedAuthentik
) -> None:
    sim_authentik.faults.slow(30, method="PATCH", count=1)
    loop = asyncio.get_running_loop()
    elapsed = []
    async with session(sim_authentik) as http:
        for method in ("GET", "PATCH", "PATCH"):
            began = loop.time()
            await call(http, method, f"{PROXY}1/", json={} if method == "PATCH" else None)
            elapsed.append(loop.time() - began)
    assert elapsed[0] < 1
    assert 30 <= elapsed[1] < 31
    assert elapsed[2] < 1


async def test_a_url_without_its_trailing_slash_is_redirected_before_authentication(
    sim_authentik: SimulatedAuthentik
) -> None:
    async with aiohttp.ClientSession(base_url=sim_authentik.url) as http:
        response = await http.get("/api/v3/providers/proxy", params={"page": 2},
                                  allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (
        301, "/api/v3/providers/proxy/?page=2")
