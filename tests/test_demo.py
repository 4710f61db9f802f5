"""`gitops-lifecycle demo`: seeds the simulated cluster, runs the daemon, narrates, exits."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from gitops_lifecycle import demo
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.settings import load
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.narration import Narrator


async def test_the_demo_runs_for_its_duration_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load(None, {"server": {"port": 0}})
    args = argparse.Namespace(duration="1s", speed=3600.0,
                              kubeconfig_out=tmp_path / "kubeconfig")
    code = await demo.run(settings, args)
    out = capsys.readouterr().out
    assert code == 0
    assert "seeded with 28 objects" in out
    assert "cluster now: 6 Jobs" in out
    assert "the daemon did this:" in out
    assert (tmp_path / "kubeconfig").exists()


async def test_the_demo_scenario_has_something_for_every_cleanup_policy() -> None:
    sim = SimulatedCluster()
    sim.load_scenario(demo.scenario_text())
    jobs = {j["metadata"]["name"]: j for j in sim.list("batch/v1", "Job")}
    conditions = {name: j["status"]["conditions"][0]["type"] for name, j in jobs.items()}
    terminating = [p for p in sim.list("v1", "Pod") if p["metadata"].get("deletionTimestamp")]
    scaled_down = [rs for rs in sim.list("apps/v1", "ReplicaSet") if rs["spec"]["replicas"] == 0]
    assert {"Complete", "Failed"} == set(conditions.values())
    assert any("ttlSecondsAfterFinished" in j["spec"] for j in jobs.values())
    assert any("kustomize.toolkit.fluxcd.io/name" in (j["metadata"].get("labels") or {})
               for j in jobs.values())
    assert {p["spec"]["nodeName"] for p in terminating} == {"node-b", "node-c"}
    assert len(scaled_down) == 6
    assert sim.list("v1", "Event")


async def test_the_narrator_tells_which_job_went_and_how_long_after_it_finished() -> None:
    clock = SimClock(start=1_700_000_000.0)
    sim = SimulatedCluster(clock=clock)
    sim.load_scenario(demo.scenario_text())
    out = io.StringIO()
    narrator = Narrator(cluster=sim, clock=clock, out=out)
    narrator.start()
    sim.delete("batch/v1", "Job", "nightly-backup", namespace="ops",
               propagation_policy="Background")
    sim.delete("v1", "Pod", "worker-5d8f9-abcde", namespace="shop", grace_period_seconds=0)
    narrator.stop()
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("deleted Job ops/nightly-backup (finished 4h ago)")
    assert lines[1].endswith("deleted Pod shop/worker-5d8f9-abcde (stuck Terminating for 40m "
                             "on node-c)")
    assert narrator.deleted == {"Job": 1, "Pod": 1}


async def test_the_demo_creates_providers_and_collects_the_orphan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load(None, {"server": {"port": 0}})
    args = argparse.Namespace(duration="6s", speed=3600.0,
                              kubeconfig_out=tmp_path / "kubeconfig")
    assert await demo.run(settings, args) == 0
    out = capsys.readouterr().out
    assert "3 ProxyConfigs applied" in out
    for name in ("grafana", "prometheus", "home-assistant"):
        assert f"Authentik: created provider '{name}'" in out
    assert "Authentik: deleted provider 'old-wiki'" in out
    assert "Authentik: 3 provider(s) created, 1 orphaned provider(s) collected" in out
    assert "Authentik now: 4 providers (grafana, hand-made, home-assistant, prometheus)" in out
