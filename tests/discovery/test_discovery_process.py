"""The daemon as a process against `gitops-lifecycle simulate` as another, driven by kubectl."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from gitops_lifecycle import crds

PROXYCONFIG = """
apiVersion: gitops.io/v1
kind: ProxyConfig
metadata: {name: grafana, namespace: default}
spec:
  serviceName: grafana
  externalHost: https://grafana.example.com
  authentikConfig: {providerName: grafana}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(kubeconfig), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate(stdin.encode() if stdin else None)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _until(check: object, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.2)


@pytest.mark.skipif(not Path("/usr/bin/kubectl").exists(), reason="needs kubectl")
async def test_daemon_process_reconciles_a_kubectl_applied_proxyconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "out" / "kubeconfig"
    simulate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitops_lifecycle", "simulate", "--kubeconfig-out",
        str(kubeconfig), "--authentik-schema", "off", stdout=asyncio.subprocess.DEVNULL)
    daemon = None
    try:
        async def written() -> bool:
            return (tmp_path / "out" / "authentik.env").exists()

        await _until(written, timeout=30)
        url = (tmp_path / "out" / "authentik-url").read_text().strip()
        token_file = tmp_path / "out" / "authentik-token"
        await _kubectl(kubeconfig, "apply", "-f", "-",
                       stdin=yaml.safe_dump(crds.load()))
        env = dict(os.environ, GITOPS_LIFECYCLE_AUTHENTIK__URL=url,
                   GITOPS_LIFECYCLE_AUTHENTIK__TOKEN_FILE=str(token_file),
                   GITOPS_LIFECYCLE_SERVER__HOST="127.0.0.1",
                   GITOPS_LIFECYCLE_KUBERNETES__LEADER_ELECTION__LEASE_NAMESPACE="default")
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gitops_lifecycle", "run", "--kubeconfig", str(kubeconfig),
            "--port", str(_free_port()), "--log-format", "json", env=env,
            stdout=(tmp_path / "daemon.log").open("w"), stderr=asyncio.subprocess.PIPE)
        await _kubectl(kubeconfig, "apply", "-f", "-", stdin=PROXYCONFIG)

        async def phase_ready() -> bool:
            phase = await _kubectl(kubeconfig, "get", "pc", "grafana",
                                   "-o", "jsonpath={.status.phase}")
            return phase == "Ready"

        await _until(phase_ready)
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        async with aiohttp.ClientSession(base_url=url, headers=headers) as session:
            async def providers() -> list[dict[str, object]]:
                answer = await session.get("/api/v3/providers/proxy/",
                                           params={"name__iexact": "grafana"})
                results: list[dict[str, object]] = (await answer.json())["results"]
                return results

            (provider,) = await providers()
            assert provider["external_host"] == "https://grafana.example.com"
            await _kubectl(kubeconfig, "delete", "proxyconfigs.gitops.io", "grafana",
                           "--wait=false")

            async def gone() -> bool:
                return not await providers()

            await _until(gone)
    finally:
        stderr = b""
        try:
            if daemon is not None and daemon.returncode is None:
                daemon.send_signal(signal.SIGTERM)
            if daemon is not None:
                _, stderr = await asyncio.wait_for(daemon.communicate(), 30)
        finally:
            simulate.send_signal(signal.SIGTERM)
            await asyncio.wait_for(simulate.wait(), 30)
    assert daemon is not None
    assert daemon.returncode == 0, stderr.decode()[-3000:]
