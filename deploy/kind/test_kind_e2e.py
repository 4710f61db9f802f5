"""End to end on a kind cluster: build the image, load it into kind, install the chart, create
finished Jobs, a stuck pod and a ProxyConfig, and assert the outcome.

The same objects and assertions run in CI against the simulated cluster
(tests/deploy/test_e2e_simulated.py). Here they need kind, podman or docker, and the kind node
image, which comes from a container registry: run with GITOPS_LIFECYCLE_KIND=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.chart import NAMESPACE, RELEASE, ROOT, render
from tests.deploy.e2e import (
    E2E_EXPECTED,
    E2E_NAMESPACE,
    E2E_VALUES,
    e2e_metrics_ok,
    e2e_objects,
    e2e_outcome,
    helm_apply,
    kubectl,
)

ENGINE = shutil.which("podman") or shutil.which("docker")
pytestmark = [
    pytest.mark.kind,
    pytest.mark.skipif(
        os.environ.get("GITOPS_LIFECYCLE_KIND") != "1" or not shutil.which("kind") or not ENGINE,
        reason="kind cannot run here: its node image (kindest/node) comes from a container "
        "registry; set GITOPS_LIFECYCLE_KIND=1 where kind and podman or docker can pull it"),
]
CLUSTER = "gitops-lifecycle"
REPOSITORY, TAG = "gitops-lifecycle-management", "e2e"
IMAGE = f"{REPOSITORY}:{TAG}"


def _run(*args: str, timeout: float = 900) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def kind_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    assert ENGINE is not None
    _run(ENGINE, "build", "-t", IMAGE, str(ROOT))
    _run("kind", "create", "cluster", "--name", CLUSTER, "--kubeconfig", str(kubeconfig),
         "--config", str(Path(__file__).with_name("kind-config.yaml")), "--wait", "120s")
    try:
        archive = kubeconfig.with_name("image.tar")
        _run(ENGINE, "save", "-o", str(archive), IMAGE)
        _run("kind", "load", "image-archive", str(archive), "--name", CLUSTER)
        yield kubeconfig
    finally:
        _run("kind", "delete", "cluster", "--name", CLUSTER)


async def _metrics(kubeconfig: Path) -> str:
    port = 18080
    forward = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(kubeconfig), "port-forward", "-n", NAMESPACE,
        f"svc/{RELEASE}-metrics", f"{port}:8080", stdout=subprocess.DEVNULL)
    try:
        await asyncio.sleep(2)

        def fetch() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return str(r.read().decode())

        return await asyncio.to_thread(fetch)
    finally:
        forward.terminate()
        await forward.wait()


async def test_the_chart_on_kind_cleans_up_and_keeps_what_it_must(kind_kubeconfig: Path) -> None:
    kubeconfig = kind_kubeconfig
    await kubectl(kubeconfig, "create", "namespace", NAMESPACE)
    image = {"image": {"repository": REPOSITORY, "tag": TAG, "pullPolicy": "Never"}}
    await helm_apply(kubeconfig, render({**E2E_VALUES, **image}))
    await kubectl(kubeconfig, "rollout", "status", "-n", NAMESPACE, f"deployment/{RELEASE}",
                  "--timeout=180s")
    for obj in e2e_objects("unused"):
        obj.pop("status", None)
        await kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(obj))
    await kubectl(kubeconfig, "wait", "-n", E2E_NAMESPACE, "--for=condition=Complete",
                  "job/finished", "--timeout=180s")
    await kubectl(kubeconfig, "wait", "-n", E2E_NAMESPACE, "--for=condition=Failed",
                  "job/broken", "--timeout=180s")
    await kubectl(kubeconfig, "delete", "pod", "held", "-n", E2E_NAMESPACE, "--wait=false")
    try:
        outcome, scrape = None, ""
        for _ in range(60):  # the TTLs are 30 s; the stuck threshold 30 s past the grace period
            outcome = await e2e_outcome(kubeconfig)
            scrape = await _metrics(kubeconfig)
            if outcome == E2E_EXPECTED and e2e_metrics_ok("", scrape):
                break
            await asyncio.sleep(5)
        assert outcome == E2E_EXPECTED
        assert e2e_metrics_ok("", scrape), scrape
    finally:
        with contextlib.suppress(AssertionError):
            await kubectl(kubeconfig, "patch", "pod", "held", "-n", E2E_NAMESPACE, "--type=json",
                          "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
