"""Seeding from YAML scenarios with times relative to the simulated now."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_lifecycle.clock import format_time
from gitops_lifecycle.simulation import ScenarioError, SimulatedCluster

SCENARIO = """
objects:
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: backup, namespace: ops}
    age: 3h
    spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}}
    status:
      completionTime: now-2h
      conditions:
        - {type: Complete, status: "True", age: 2h}
  - apiVersion: v1
    kind: Pod
    metadata:
      name: backup-abcde
      namespace: ops
      ownerReferences: [{apiVersion: batch/v1, kind: Job, name: backup}]
      deletionTimestamp: now-20m
      deletionGracePeriodSeconds: 30
    spec: {nodeName: gone, containers: [{name: c, image: x}]}
    status: {phase: Running}
"""


async def test_ages_become_timestamps_relative_to_the_clock(sim: SimulatedCluster) -> None:
    sim.load_scenario(SCENARIO)
    now = sim.clock.now()
    backup = sim.get("batch/v1", "Job", "backup", "ops")
    assert backup["metadata"]["creationTimestamp"] == format_time(now - 3 * 3600)
    assert backup["status"]["completionTime"] == format_time(now - 2 * 3600)
    assert backup["status"]["conditions"][0]["lastTransitionTime"] == format_time(now - 7200)
    assert "age" not in backup["status"]["conditions"][0]


async def test_owner_references_by_name_and_deletion_timestamps_are_restored(
    sim: SimulatedCluster,
) -> None:
    sim.load_scenario(SCENARIO)
    backup = sim.get("batch/v1", "Job", "backup", "ops")
    stuck = sim.get("v1", "Pod", "backup-abcde", "ops")
    assert stuck["metadata"]["ownerReferences"][0]["uid"] == backup["metadata"]["uid"]
    assert stuck["metadata"]["deletionTimestamp"] == format_time(sim.clock.now() - 1200)


async def test_multi_document_files_load(sim: SimulatedCluster, tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
                    "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    sim.load_scenario(path)
    names = [n["metadata"]["name"] for n in sim.list("v1", "Namespace")]
    assert names == ["a", "b", "default", "kube-node-lease", "kube-public", "kube-system"]


async def test_an_owner_that_is_not_seeded_is_an_error(sim: SimulatedCluster) -> None:
    with pytest.raises(ScenarioError):
        sim.load_scenario("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  ownerReferences:"
                          "\n    - {apiVersion: batch/v1, kind: Job, name: nope}\n")
