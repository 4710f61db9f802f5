"""`gitops-lifecycle simulate` serves the cluster until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

SCENARIO = "apiVersion: v1\nkind: Namespace\nmetadata: {name: seeded}\n"


async def test_simulate_serves_a_seeded_cluster_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    kubeconfig = tmp_path / "kubeconfig"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "simulate", "--scenario",
        str(tmp_path / "scenario.yaml"), "--kubeconfig-out", str(kubeconfig),
        stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode()
                 for _ in range(2)]
        url = lines[1].rsplit(" ", 1)[-1].strip()
        async with aiohttp.ClientSession() as session:
            listed = await (await session.get(f"{url}/api/v1/namespaces")).json()
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert "seeded" in [n["metadata"]["name"] for n in listed["items"]]
    assert kubeconfig.exists()
    assert code == 0


async def test_an_outage_is_rehearsed_from_outside_the_simulate_process(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "simulate", "--empty",
        stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = line.rsplit(" ", 1)[-1].strip()
        async with aiohttp.ClientSession(base_url=url) as session:
            fault = {"path": "/namespaces", "status": 503, "retryAfter": 5, "seconds": 600}
            added = await session.post("/simulation/faults", json=fault)
            during = await session.get("/api/v1/namespaces")
            await session.post("/simulation/clock/advance", json={"seconds": 600})
            after = await session.get("/api/v1/namespaces")
            log = await (await session.get("/simulation/requests")).json()
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert added.status == 201
    assert (during.status, during.headers["Retry-After"], after.status) == (503, "5", 200)
    assert [r["status"] for r in log["items"]] == [503, 200]
    assert code == 0


async def test_simulate_serves_authentik_and_writes_its_url_and_token_beside_the_kubeconfig(
    tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "out" / "kubeconfig"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "simulate", "--empty", "--kubeconfig-out",
        str(kubeconfig), "--authentik-schema", "off", stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode()
                 for _ in range(4)]
        url = (tmp_path / "out" / "authentik-url").read_text().strip()
        token = (tmp_path / "out" / "authentik-token").read_text().strip()
        async with aiohttp.ClientSession(
                base_url=url, headers={"Authorization": f"Bearer {token}"}) as session:
            outposts = await (await session.get("/api/v3/outposts/instances/")).json()
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert lines[2] == f"simulated Authentik API at {url}\n"
    assert f"--set authentik.tokenFile={tmp_path / 'out' / 'authentik-token'}" in lines[3]
    assert [o["name"] for o in outposts["results"]] == ["authentik Embedded Outpost"]
    assert f"GITOPS_LIFECYCLE_AUTHENTIK__URL={url}\n" in \
        (tmp_path / "out" / "authentik.env").read_text()
    assert code == 0
