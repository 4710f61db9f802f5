"""Where the API server is and who we are to it: in-cluster service account or kubeconfig.

Only what a few GETs need, read the way client-go reads it, without kubernetes-asyncio (whose
import alone takes more memory than an init container may have): a service account's token,
CA and namespace; a kubeconfig's server, CA, TLS server name, proxy-url, token, token file,
client certificate, basic auth and exec plugin, and its context's namespace.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    from gitops_lifecycle.retry.waitsettings import Kubernetes

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path("~/.kube/config")
_EXEC_TIMEOUT = 30


@dataclasses.dataclass(frozen=True)
class Api:
    """Everything a request needs besides its path."""

    server: str
    tls: ssl.SSLContext | bool
    headers: dict[str, str]
    namespace: str
    server_hostname: str | None = None
    proxy: str | None = None


def load(settings: Kubernetes) -> Api:
    """In a pod the service account unless a kubeconfig or context is named, else kubeconfig."""
    named = settings.kubeconfig is not None or settings.context is not None
    if not named and "KUBERNETES_SERVICE_HOST" in os.environ:
        return in_cluster()
    return from_kubeconfig(settings.kubeconfig, settings.context)


def in_cluster(root: Path | None = None) -> Api:
    """The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its token, CA and namespace."""
    root = root or SERVICE_ACCOUNT
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    token = _read(root / "token", "service account token").strip()
    tls = _context(ca_file=str(root / "ca.crt"))
    namespace_file = root / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else ""
    return Api(server=f"https://{host}:{port}", tls=tls,
               headers={"Authorization": f"Bearer {token}"}, namespace=namespace or "default")


def kubeconfig_paths(path: Path | None) -> list[Path]:
    """The file named, else those in KUBECONFIG (merged, first wins), else ~/.kube/config."""
    if path is not None:
        return [Path(path).expanduser()]
    listed = [Path(p).expanduser() for p in os.environ.get("KUBECONFIG", "").split(os.pathsep)
              if p]
    return listed or [DEFAULT_KUBECONFIG.expanduser()]


def from_kubeconfig(path: Path | None, context: str | None) -> Api:
    """The Api of the kubeconfig's context (the current one unless named)."""
    merged = _merged(kubeconfig_paths(path))
    name = context or merged["current-context"]
    if not name:
        raise NotRetryable("the kubeconfig sets no current-context: name one with --context")
    chosen = _named(merged, "contexts", name, "context")
    cluster = _named(merged, "clusters", chosen.get("cluster", ""), "cluster")
    user = _named(merged, "users", chosen["user"], "user") if chosen.get("user") else {}
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise NotRetryable(f"cluster {chosen.get('cluster')!r} in the kubeconfig has no server")
    return Api(
        server=server,
        tls=_cluster_tls(cluster, user) if server.startswith("https://") else False,
        headers=_authorization(user),
        namespace=chosen.get("namespace") or "default",
        server_hostname=cluster.get("tls-server-name"),
        proxy=cluster.get("proxy-url"),
    )


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise NotRetryable(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc


def _merged(paths: list[Path]) -> dict[str, Any]:
    """The files merged as kubectl merges them: the first to name an entry wins."""
    merged: dict[str, Any] = {"current-context": "", "contexts": {}, "clusters": {}, "users": {}}
    for path in paths:
        if not path.exists() and len(paths) > 1:
            continue  # KUBECONFIG may list files that do not exist
        document = _document(path)
        merged["current-context"] = merged["current-context"] or document.get("current-context")
        for section in ("contexts", "clusters", "users"):
            for entry in document.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") is not None:
                    merged[section].setdefault(entry["name"], _resolved(entry, path.parent))
    return merged


def _document(path: Path) -> dict[str, Any]:
    import yaml

    if not path.exists():
        raise NotRetryable(f"kubeconfig {path} does not exist")
    try:
        document = yaml.safe_load(_read(path, "kubeconfig"))
    except yaml.YAMLError as exc:
        raise NotRetryable(f"kubeconfig {path} is not YAML: {exc}") from exc
    if document is None:
        raise NotRetryable(f"kubeconfig {path} is empty")
    if not isinstance(document, dict):
        raise NotRetryable(f"kubeconfig {path} is not a kubeconfig (a mapping)")
    return document


_PATH_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def _resolved(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    """The entry's body, relative file names made relative to the kubeconfig's directory."""
    body = next((v for k, v in entry.items() if k != "name" and isinstance(v, dict)), {})
    body = dict(body)
    for key in _PATH_KEYS:
        if body.get(key):
            body[key] = str(base / Path(body[key]).expanduser())
    return body


def _named(merged: dict[str, Any], section: str, name: str, what: str) -> dict[str, Any]:
    found: dict[str, Any] | None = merged[section].get(name)
    if found is None:
        raise NotRetryable(f"the kubeconfig has no {what} named {name!r}")
    return found


def _cluster_tls(cluster: dict[str, Any], user: dict[str, Any]) -> ssl.SSLContext | bool:
    if cluster.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = _context(
            ca_file=cluster.get("certificate-authority"),
            ca_data=_decoded(cluster.get("certificate-authority-data")),
        )
    credential = _exec(user["exec"]) if user.get("exec") else {}
    cert = _pem(user, "client-certificate") or credential.get("clientCertificateData")
    key = _pem(user, "client-key") or credential.get("clientKeyData")
    if cert and key:
        _load_client_certificate(context, cert, key)
    return context


def _context(*, ca_file: str | None = None, ca_data: str | None = None) -> ssl.SSLContext:
    try:
        if ca_file or ca_data:
            return ssl.create_default_context(cafile=ca_file, cadata=ca_data)
        return ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise NotRetryable(f"cannot load the cluster's CA certificate: {exc}") from exc


def _decoded(data: str | None) -> str | None:
    return base64.b64decode(data).decode() if data else None


def _pem(user: dict[str, Any], key: str) -> str | None:
    if user.get(f"{key}-data"):
        return _decoded(user[f"{key}-data"])
    if user.get(key):
        return _read(Path(user[key]), key.replace("-", " "))
    return None


def _load_client_certificate(context: ssl.SSLContext, cert: str, key: str) -> None:
    """ssl loads certificates only from files: a private temporary one, removed at once."""
    with tempfile.TemporaryDirectory(prefix="wait-") as directory:
        path = Path(directory) / "client.pem"
        path.touch(mode=0o600)
        path.write_text(f"{cert.strip()}\n{key.strip()}\n")
        try:
            context.load_cert_chain(str(path))
        except ssl.SSLError as exc:
            raise NotRetryable(f"cannot load the client certificate: {exc}") from exc


def _authorization(user: dict[str, Any]) -> dict[str, str]:
    token = user.get("token")
    if not token and user.get("tokenFile"):
        # client-go trims the file's whitespace: a trailing newline is not part of the token.
        token = _read(Path(user["tokenFile"]), "token file").strip()
    if not token and user.get("exec"):
        token = _exec(user["exec"]).get("token")
    if not token:
        token = ((user.get("auth-provider") or {}).get("config") or {}).get("id-token")
    if token:
        return {"Authorization": f"Bearer {token.strip()}"}
    if user.get("username"):
        raw = f"{user['username']}:{user.get('password') or ''}".encode()
        return {"Authorization": f"Basic {base64.b64encode(raw).decode()}"}
    return {}


_exec_cache: dict[str, dict[str, Any]] = {}


def _exec(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the kubeconfig's credential plugin once and return its ExecCredential status."""
    key = json.dumps(spec, sort_keys=True)
    if key not in _exec_cache:
        _exec_cache[key] = _run_plugin(spec)
    return _exec_cache[key]


def _run_plugin(spec: dict[str, Any]) -> dict[str, Any]:
    command = [spec.get("command", ""), *(spec.get("args") or [])]
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({
        "apiVersion": spec.get("apiVersion", "client.authentication.k8s.io/v1"),
        "kind": "ExecCredential", "spec": {"interactive": False},
    })
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,  # noqa: S603 - the kubeconfig's own plugin
                              timeout=_EXEC_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotReady(f"credential plugin {command[0]!r}: {exc}") from exc
    if done.returncode != 0:
        raise NotReady(f"credential plugin {command[0]!r} exited {done.returncode}: "
                       f"{done.stderr.strip()[-200:]}")
    try:
        status: dict[str, Any] = json.loads(done.stdout).get("status") or {}
    except (ValueError, AttributeError) as exc:
        raise NotRetryable(f"credential plugin {command[0]!r} printed no ExecCredential") from exc
    return status
