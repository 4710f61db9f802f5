"""The chart's manifests applied to the simulated cluster with kubectl, upgraded, rolled back and
uninstalled as Helm does; the daemon configured by the rendered Deployment's environment runs
the demo's scenario to the demo's outcome."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

from gitops_lifecycle import demo, demo_authentik
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.settings import load
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from gitops_lifecycle.simulation.narration import Narrator
from tests.deploy.chart import CHART, NAMESPACE, RELEASE, production_values, render
from tests.deploy.e2e import (
    KEEP,
    environment,
    helm_apply,
    kubectl,
    needs_kubectl,
    running,
    settings_from,
)
from tests.retry.services import free_port

pytestmark = needs_kubectl
EXAMPLES = Path(__file__).parents[2] / "deploy/examples/proxyconfigs/valid.yaml"
SPEED = 600.0
DURATION = 10.0  # real seconds: 100 simulated minutes, past everything the demo sees fall due


async def _cluster(tmp_path: Path) -> tuple[SimulatedCluster, Path]:
    sim = SimulatedCluster(clock=SimClock(), kubelet=False)
    await sim.start()
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    await kubectl(kubeconfig, "create", "namespace", NAMESPACE)
    return sim, kubeconfig


async def test_every_rendered_object_is_applied_and_read_back(tmp_path: Path) -> None:
    sim, kubeconfig = await _cluster(tmp_path)
    try:
        rendered = render(production_values())
        await helm_apply(kubeconfig, rendered)
        for obj in rendered.objects:
            meta = obj["metadata"]
            stored = sim.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            assert stored is not None, f"{obj['kind']} {meta['name']}"
        assert sim.get("apps/v1", "Deployment", RELEASE, NAMESPACE)["spec"]["replicas"] == 2
    finally:
        await sim.stop()


def _bumped_chart(tmp_path: Path, version: str) -> Path:
    chart = tmp_path / f"chart-{version}" / CHART.name
    shutil.copytree(CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta["version"] = version
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    return chart


async def _proxyconfigs(kubeconfig: Path) -> list[str]:
    listed = yaml.safe_load(await kubectl(kubeconfig, "get", "proxyconfigs", "-A", "-o", "yaml"))
    return sorted(f"{i['metadata']['namespace']}/{i['metadata']['name']}"
                  for i in listed["items"])


async def test_upgrade_rollback_and_uninstall_keep_the_crd_and_the_proxyconfigs(
        tmp_path: Path) -> None:
    sim, kubeconfig = await _cluster(tmp_path)
    try:
        first = render()
        await helm_apply(kubeconfig, first)
        for namespace in ("monitoring", "home-automation"):
            await kubectl(kubeconfig, "create", "namespace", namespace)
        await kubectl(kubeconfig, "apply", "-f", str(EXAMPLES))
        examples = await _proxyconfigs(kubeconfig)
        assert examples == ["home-automation/home-assistant", "monitoring/grafana"]

        upgraded = render(production_values(), chart=_bumped_chart(tmp_path, "0.2.0"),
                          upgrade=True, revision=2)
        await helm_apply(kubeconfig, upgraded, first)
        assert sim.get("policy/v1", "PodDisruptionBudget", RELEASE, NAMESPACE) is not None
        without_crd = render({"crds": {"install": False}}, upgrade=True, revision=3)
        deleted = await helm_apply(kubeconfig, without_crd, upgraded)
        assert ("policy/v1", "PodDisruptionBudget", NAMESPACE, RELEASE) in deleted
        rolled_back = render(upgrade=True, revision=4)
        await helm_apply(kubeconfig, rolled_back, without_crd)
        await helm_apply(kubeconfig, None, rolled_back)  # helm uninstall

        assert sim.get("apps/v1", "Deployment", RELEASE, NAMESPACE) is None
        crd = sim.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                      "proxyconfigs.gitops.io")
        assert crd is not None
        assert await _proxyconfigs(kubeconfig) == examples
    finally:
        await sim.stop()


async def test_without_the_keep_policy_an_upgrade_would_delete_the_crd(tmp_path: Path) -> None:
    sim, kubeconfig = await _cluster(tmp_path)
    try:
        first = render()
        unkept = yaml.safe_load(yaml.safe_dump(first.one("CustomResourceDefinition")))
        del unkept["metadata"]["annotations"][KEEP]
        without_keep = type(first)(tuple(unkept if o["kind"] == "CustomResourceDefinition"
                                         else o for o in first.objects), first.notes)
        await helm_apply(kubeconfig, without_keep)
        await helm_apply(kubeconfig, render({"crds": {"install": False}}, upgrade=True,
                                            revision=2), without_keep)
        assert sim.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                       "proxyconfigs.gitops.io") is None
    finally:
        await sim.stop()


_DELETED = re.compile(r"\] (deleted \w+ \S+) \(|\] (deleted \d+ old Event)"
                      r"|\] Authentik: (deleted (?:provider|application) '[^']+')")


def _outcome(narration: str) -> list[str]:
    """What the narration says was deleted, in the cluster and in Authentik (sorted); old
    Events as one total (the narration batches them by when it last reported)."""
    lines = [next(g for g in m.groups() if g) for m in _DELETED.finditer(narration)]
    events = sum(int(line.split()[1]) for line in lines if line.endswith("old Event"))
    return sorted([line for line in lines if not line.endswith("old Event")]
                  + [f"deleted {events} old Events"])


def _scenario_without(namespace: str) -> str:
    """The demo's scenario less the Namespace the chart's install already created."""
    scenario = yaml.safe_load(demo.scenario_text())
    scenario["objects"] = [o for o in scenario["objects"] if not (
        o["kind"] == "Namespace" and o["metadata"]["name"] == namespace)]
    return yaml.safe_dump(scenario)


async def test_the_chart_configured_daemon_ends_the_demo_scenario_as_the_demo_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `gitops-lifecycle demo` with its defaults, for the same simulated time.
    args = argparse.Namespace(duration=f"{DURATION}s", speed=SPEED)
    assert await demo.run(load(), args) == 0
    expected = _outcome(capsys.readouterr().out)
    assert any(line.startswith("deleted Job") for line in expected)
    assert any(line.startswith("deleted Pod") for line in expected)
    assert any(line.startswith("deleted provider") for line in expected)

    # The same scenario with the chart installed, and the daemon as its Deployment sets it up:
    # the token from the Secret the chart names, Authentik and the orphan age as the demo's.
    clock = SimClock(speed=SPEED)
    sim = SimulatedCluster(clock=clock, controllers=True)
    authentik = SimulatedAuthentik(clock=clock, validate_schema="off")
    await sim.start()
    await authentik.start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        await kubectl(kubeconfig, "create", "namespace", NAMESPACE)
        await kubectl(kubeconfig, "create", "secret", "generic", f"{RELEASE}-authentik",
                      "-n", NAMESPACE, f"--from-literal=token={authentik.token}")
        rendered = render({
            "authentik": {"url": authentik.url, "clusterName": demo_authentik.CLUSTER},
            "cleanup": {"controller": {"policies": {"orphanedProviders": {
                "maxAge": demo_authentik.ORPHAN_MAX_AGE}}}}})
        await helm_apply(kubeconfig, rendered)
        sim.load_scenario(_scenario_without(NAMESPACE))
        demo_authentik.seed(sim, authentik)
        settings = settings_from(environment(rendered, sim), monkeypatch,
                                 kubeconfig=kubeconfig, port=free_port())
        narration = io.StringIO()
        narrator = Narrator(cluster=sim, clock=clock, out=narration)
        story = demo_authentik.AuthentikStory(authentik, narrator)
        narrator.start()
        async with running(settings, clock):
            await asyncio.sleep(DURATION)
        narrator.stop()
        story.flush()
    finally:
        await authentik.stop()
        await sim.stop()
    assert _outcome(narration.getvalue()) == expected
    lease = sim.get("coordination.k8s.io/v1", "Lease", RELEASE, NAMESPACE)
    assert lease is not None, "the daemon led through the Lease the chart's Role allows"
