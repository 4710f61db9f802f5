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
