"""The real `gitops-lifecycle run` process: metrics, probes, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gitops_lifecycle.simulation import SimulatedCluster

GRACE_PERIOD = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimulatedCluster]:
    async with SimulatedCluster() as cluster:
        cluster.ensure_namespaces("gitops-system")  # where the daemon runs
        yield cluster


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str] | None:
    try:
        async with session.get(url) as response:
            return response.status, await response.text()
    except aiohttp.ClientConnectionError:
        return None


async def _until(session: aiohttp.ClientSession, url: str, status: int) -> str:
    for _ in range(300):
        answer = await _get(session, url)
        if answer is not None and answer[0] == status:
            return answer[1]
        await asyncio.sleep(0.1)
    pytest.fail(f"{url} never answered {status}")


async def test_run_serves_metrics_and_probes_and_stops_cleanly_on_sigterm(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    port = _free_port()
    sim.faults.latency(3)  # the informers cannot sync until the test lifts this
    env = dict(
        os.environ,
        GITOPS_LIFECYCLE_SERVER__HOST="127.0.0.1",
        GITOPS_LIFECYCLE_KUBERNETES__LEADER_ELECTION__LEASE_NAMESPACE="default",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "run", "--kubeconfig", str(kubeconfig),
        "--port", str(port), "--log-format", "json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            not_ready = await _until(session, f"{base}/readyz", 503)
            assert "[-]informer:" in not_ready
            assert (await _until(session, f"{base}/healthz", 200)).endswith("check passed\n")
            sim.faults.clear()
            ready = await _until(session, f"{base}/readyz", 200)
            assert "[+]informer:jobs ok" in ready
            status, text = await _get(session, f"{base}/metrics") or (0, "")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert "gitops_cleanup_jobs_cleaned" in families
        assert {s.labels["type"] for s in families["gitops_cleanup_jobs_cleaned"].samples} >= {
            "completed", "failed"
        }
        assert "gitops_leader" in families
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, stderr = await asyncio.wait_for(process.communicate(), GRACE_PERIOD + 5)
    assert loop.time() - started < GRACE_PERIOD
    assert process.returncode == 0, stderr.decode()[-2000:]
