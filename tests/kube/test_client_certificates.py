"""Client certificates from a kubeconfig exec plugin: a rotated one is used after a 401."""

from __future__ import annotations

import json
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import NAMESPACES
from gitops_lifecycle.settings import KubernetesSettings
from tests.retry.services import client_certificate, make_tls

pytestmark = pytest.mark.looptime

PLUGIN = """\
import json, pathlib, sys
state = pathlib.Path(sys.argv[1])
runs = int(state.read_text()) if state.exists() else 0
state.write_text(str(runs + 1))
name = "old" if runs == 0 else "new"
folder = state.parent
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
    "status": {"clientCertificateData": (folder / f"{name}.crt").read_text(),
               "clientKeyData": (folder / f"{name}.key").read_text()},
}))
"""


@pytest.fixture
async def mtls_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path, list[str]]]:
    """An HTTPS server that answers user `old` with 401 (its certificate was revoked)."""
    tls = make_tls(tmp_path / "server")
    for name in ("old", "new"):
        client_certificate(tls, tmp_path, name=name)
    seen: list[str] = []

    async def namespace(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        user = dict(item[0] for item in (peer or {}).get("subject", ())).get("commonName", "")
        seen.append(user)
        if user != "new":
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "reason": "Unauthorized", "code": 401}, status=401)
        return web.json_response({"kind": "Namespace", "apiVersion": "v1",
                                  "metadata": {"name": request.match_info["name"]}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/{name}", namespace)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.ca))
    context.load_cert_chain(tls.cert, tls.key)
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}", tls.ca, seen
    finally:
        await runner.cleanup()


async def test_a_certificate_rotated_by_the_exec_plugin_is_used_after_a_401(
        mtls_server: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    url, ca, seen = mtls_server
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": url, "certificate-authority": str(ca)}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
            "args": [str(plugin), str(tmp_path / "runs")], "interactiveMode": "Never"}}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    settings = KubernetesSettings(kubeconfig=kubeconfig, qps=1000, burst=1000)
    async with Kube.from_settings(settings) as kube:
        namespace = await kube.get(NAMESPACES, "team-a", record=Object)
    assert namespace.metadata.name == "team-a"
    assert seen == ["old", "new"]
    assert json.loads((tmp_path / "runs").read_text()) == 2
