"""Client certificates from a kubeconfig exec plugin: a rotated one is used after a 401."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import NAMESPACES
from gitops_lifecycle.settings import KubernetesSettings
from tests.retry.services import Tls, make_tls

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


def client_certificate(tls: Tls, name: str, folder: Path) -> None:
    """A client certificate for user `name`, signed by the test CA."""
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def signing_ca(folder: Path) -> tuple[Tls, Tls]:
    """make_tls's server certificate, and a CA of our own (key in the folder) for clients."""
    tls = make_tls(folder / "server")
    # make_tls keeps its CA key to itself: sign the clients with a second CA the server trusts.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "ca.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    clients = Tls(folder / "clients-ca.crt", tls.cert, tls.key)
    clients.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return tls, clients


@pytest.fixture
async def mtls_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path, list[str]]]:
    """An HTTPS server that answers user `old` with 401 (its certificate was revoked)."""
    server_tls, clients = signing_ca(tmp_path)
    for name in ("old", "new"):
        client_certificate(clients, name, tmp_path)
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
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(clients.ca))
    context.load_cert_chain(server_tls.cert, server_tls.key)
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}", server_tls.ca, seen
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
