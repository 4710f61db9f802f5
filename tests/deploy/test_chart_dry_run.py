"""Every manifest the chart renders passes `kubectl apply --dry-run=server` against the
simulated cluster (kubectl's own validation on, as a user runs it), and a broken one is refused
with the field named — what a real API server does before `helm install` changes anything."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster
from tests.deploy.chart import NAMESPACE, RELEASE, Rendered, production_values, render
from tests.deploy.e2e import install_order
from tests.simulation.clients import kubectl, kubectl_run, needs_kubectl

pytestmark = needs_kubectl

Breakage = Callable[[dict[str, Any]], None]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[SimulatedCluster, Path]]:
    sim = SimulatedCluster(clock=SimClock(), kubelet=False)
    await sim.start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        await kubectl(kubeconfig, "create", "namespace", NAMESPACE)
        yield sim, kubeconfig
    finally:
        await sim.stop()


async def _crds_first(kubeconfig: Path, rendered: Rendered) -> list[dict[str, Any]]:
    """Apply the chart's CRDs for real, as Helm installs them before what may use them; the
    other objects in Helm's install order."""
    crds = rendered.of_kind("CustomResourceDefinition")
    if crds:
        await kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(crds))
    return [o for o in install_order(rendered.objects) if o["kind"] != "CustomResourceDefinition"]


def _named(obj: dict[str, Any]) -> str:
    """How kubectl names an object in its output: `kind.group/name`."""
    group = obj["apiVersion"].rpartition("/")[0]
    kind = obj["kind"].lower()
    return f"{kind}.{group}/{obj['metadata']['name']}" if group else \
        f"{kind}/{obj['metadata']['name']}"


@pytest.mark.parametrize("values", ["default", "production"])
async def test_every_rendered_manifest_passes_a_server_side_dry_run(
        cluster: tuple[SimulatedCluster, Path], values: str) -> None:
    sim, kubeconfig = cluster
    rendered = render(production_values() if values == "production" else {})
    objects = await _crds_first(kubeconfig, rendered)
    run = await kubectl_run(kubeconfig, "apply", "--dry-run=server", "-f", "-",
                            stdin=yaml.safe_dump_all(objects, sort_keys=False))
    assert (run.code, run.err) == (0, "")
    lines = run.out.splitlines()
    assert len(lines) == len(objects)
    for obj, line in zip(objects, lines, strict=True):
        assert line == f"{_named(obj)} created (server dry run)"
    # A dry run changes nothing.
    assert sim.get("apps/v1", "Deployment", RELEASE, NAMESPACE) is None


def _replicas_as_text(deployment: dict[str, Any]) -> None:
    deployment["spec"]["replicas"] = "two"


def _no_selector(deployment: dict[str, Any]) -> None:
    del deployment["spec"]["selector"]


def _no_image(deployment: dict[str, Any]) -> None:
    del deployment["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.parametrize(("break_it", "named"), [
    (_replicas_as_text, "spec.replicas"),
    (_no_selector, "spec.selector"),
    (_no_image, "spec.template.spec.containers[0].image"),
])
async def test_a_broken_deployment_is_refused_naming_the_field(
        cluster: tuple[SimulatedCluster, Path], break_it: Breakage, named: str) -> None:
    sim, kubeconfig = cluster
    deployment = copy.deepcopy(render().one("Deployment"))
    break_it(deployment)
    run = await kubectl_run(kubeconfig, "apply", "--dry-run=server", "-f", "-",
                            stdin=yaml.safe_dump(deployment))
    assert run.code != 0
    assert named in run.err, run.err
    print(run.err)  # noqa: T201 - kubectl's words, for `pytest -s`
    assert sim.get("apps/v1", "Deployment", RELEASE, NAMESPACE) is None
