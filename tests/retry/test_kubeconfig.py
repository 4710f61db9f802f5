"""Reading credentials as client-go does: service account, kubeconfig files, exec plugins."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
import yaml

from gitops_lifecycle.retry.checks import kubeconfig
from gitops_lifecycle.retry.errors import NotRetryable
from gitops_lifecycle.settings import KubernetesSettings
from tests.retry.services import make_tls


def write(path: Path, *, namespace: str | None = None, server: str = "https://k:6443",
          user: dict[str, object] | None = None, name: str = "c",
          cluster: dict[str, object] | None = None) -> Path:
    context: dict[str, object] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": name, "user": user or {}}],
        "contexts": [{"name": name, "context": context}],
    }))
    return path


def test_in_a_pod_the_service_accounts_namespace_token_and_ca_are_used(tmp_path, monkeypatch):
    tls = make_tls(tmp_path / "tls")
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "namespace").write_text("payments")
    (tmp_path / "ca.crt").write_bytes(tls.ca.read_bytes())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", tmp_path)
    api = kubeconfig.load(KubernetesSettings())
    assert (api.server, api.namespace) == ("https://10.0.0.1:443", "payments")
    assert api.headers == {"Authorization": "Bearer sa-token"}


def test_a_named_kubeconfig_wins_over_the_service_account(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    path = write(tmp_path / "config", namespace="team-a", server="http://sim:1")
    api = kubeconfig.load(KubernetesSettings(kubeconfig=path))
    assert (api.server, api.namespace, api.tls) == ("http://sim:1", "team-a", False)


def test_without_a_namespace_in_the_context_it_is_default(tmp_path):
    api = kubeconfig.from_kubeconfig(write(tmp_path / "config", server="http://x"), None)
    assert api.namespace == "default"


def test_kubeconfig_files_merge_and_the_first_to_name_an_entry_wins(tmp_path, monkeypatch):
    first = write(tmp_path / "a", namespace="from-a", server="http://a")
    second = write(tmp_path / "b", namespace="from-b", server="http://b", name="other")
    monkeypatch.setenv("KUBECONFIG", f"{second}:{tmp_path / 'missing'}:{first}")
    api = kubeconfig.load(KubernetesSettings(context="c"))
    assert (api.server, api.namespace) == ("http://a", "from-a")


def test_a_missing_file_and_a_missing_context_are_named(tmp_path):
    with pytest.raises(NotRetryable, match="does not exist"):
        kubeconfig.from_kubeconfig(tmp_path / "nope", None)
    with pytest.raises(NotRetryable, match="no context named 'prod'"):
        kubeconfig.from_kubeconfig(write(tmp_path / "config"), "prod")


def test_an_exec_plugin_supplies_the_token(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import json, os\nprint(json.dumps({'apiVersion': "
                      "'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
                      "'status': {'token': 'exec-' + os.environ['WHO']}}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "env": [{"name": "WHO", "value": "me"}]}}
    api = kubeconfig.from_kubeconfig(write(tmp_path / "config", user=user), None)
    assert api.headers == {"Authorization": "Bearer exec-me"}


def test_ca_data_client_certificate_and_basic_auth_are_read(tmp_path):
    tls = make_tls(tmp_path / "tls")
    encoded = {name: base64.b64encode(path.read_bytes()).decode()
               for name, path in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key))}
    user = {"client-certificate-data": encoded["cert"], "client-key-data": encoded["key"],
            "username": "admin", "password": "pw"}
    api = kubeconfig.from_kubeconfig(write(
        tmp_path / "config", user=user,
        cluster={"certificate-authority-data": encoded["ca"], "tls-server-name": "kube"}), None)
    assert api.server_hostname == "kube"
    assert api.headers["Authorization"] == "Basic " + base64.b64encode(b"admin:pw").decode()
    assert json.dumps(api.tls.get_ca_certs())  # the CA was loaded


def test_relative_files_are_relative_to_the_kubeconfig(tmp_path):
    (tmp_path / "tok").write_text("relative-token")
    api = kubeconfig.from_kubeconfig(write(tmp_path / "config", user={"tokenFile": "tok"}), None)
    assert api.headers == {"Authorization": "Bearer relative-token"}
