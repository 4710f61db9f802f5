"""The Kubernetes Event recorder against the simulated cluster, in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.clock import SimClock, parse_time
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.events import COMPONENT, EventRecorder
from gitops_lifecycle.kube.records import ObjectReference
from gitops_lifecycle.settings import KubernetesSettings
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

START = 1_700_000_000.0
JOB = ObjectReference(api_version="batch/v1", kind="Job", namespace="team-a", name="backup",
                      uid="uid-1")


@asynccontextmanager
async def recorder(
    tmp_path: Path, **options: Any
) -> AsyncIterator[tuple[SimulatedCluster, EventRecorder]]:
    async with SimulatedCluster(clock=SimClock(start=START)) as sim:
        sim.ensure_namespaces("team-a")
        path = sim.write_kubeconfig(tmp_path / "kubeconfig")
        settings = KubernetesSettings(kubeconfig=path, qps=1000, burst=1000)
        async with Kube.from_settings(settings) as kube:
            assert isinstance(sim.clock, SimClock)
            events = EventRecorder(kube=kube, clock=sim.clock, instance="replica-1", **options)
            task = asyncio.create_task(events.run())
            try:
                yield sim, events
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def events_in(sim: SimulatedCluster, namespace: str | None = None) -> list[dict[str, Any]]:
    return sim.list("events.k8s.io/v1", "Event", namespace)


def count(event: dict[str, Any]) -> int:
    """Occurrences an Event stands for: a series counts them, a single one is one."""
    return (event.get("series") or {}).get("count", 1)


def writes(sim: SimulatedCluster) -> list[Any]:
    return [r for r in sim.requests if "/events" in r.path and r.method in {"POST", "PATCH"}]


def failed(cause: str) -> float:
    return REGISTRY.get_sample_value("gitops_kubernetes_events_failed_total", {"cause": cause}) or 0


async def test_the_first_occurrence_creates_an_event_about_the_object(tmp_path: Path) -> None:
    async with recorder(tmp_path) as (sim, events):
        events.record(JOB, type="Normal", reason="CleanedUp", message="Deleted Job backup",
                      action="Delete")
        await asyncio.sleep(1)
        [event] = events_in(sim, "team-a")
    assert event["regarding"] == {"apiVersion": "batch/v1", "kind": "Job",
                                  "namespace": "team-a", "name": "backup", "uid": "uid-1"}
    assert (event["type"], event["reason"], event["action"], event["note"]) == (
        "Normal", "CleanedUp", "Delete", "Deleted Job backup")
    assert event["reportingController"] == COMPONENT
    assert event["reportingInstance"] == "replica-1"
    assert parse_time(event["eventTime"]) == START
    assert "series" not in event
    # events.k8s.io/v1 refuses the deprecated core fields on create.
    assert not {"deprecatedCount", "deprecatedSource", "deprecatedFirstTimestamp",
                "deprecatedLastTimestamp"} & set(event)


async def test_an_event_about_a_namespace_goes_in_default_as_the_api_server_requires(
    tmp_path: Path,
) -> None:
    # The blast-radius warning is about the Namespace the daemon runs in: a cluster-scoped
    # object, so its Event can only live in `default` (or kube-system).
    home = ObjectReference(api_version="v1", kind="Namespace", name="gitops-system")
    before = failed("api")
    async with recorder(tmp_path) as (sim, events):
        events.record(home, type="Warning", reason="BlastRadiusExceeded", message="stopped")
        await asyncio.sleep(1)
        assert events_in(sim, "gitops-system") == []
        [event] = events_in(sim, "default")
    assert failed("api") == before
    assert event["regarding"] == {"apiVersion": "v1", "kind": "Namespace",
                                  "name": "gitops-system"}
    assert (event["type"], event["reason"], event["action"]) == (
        "Warning", "BlastRadiusExceeded", "BlastRadiusExceeded")
    assert parse_time(event["eventTime"]) == START
    assert event["reportingController"] == COMPONENT
    assert event["reportingInstance"] == "replica-1"


async def test_a_burst_of_repeats_becomes_one_event_with_a_count(tmp_path: Path) -> None:
    async with recorder(tmp_path) as (sim, events):
        for _ in range(100):
            events.record(JOB, type="Warning", reason="BlastRadiusExceeded", message="stopped")
        await asyncio.sleep(1)
        [event] = events_in(sim, "team-a")
        assert count(event) == 100
        assert len(writes(sim)) <= 2


async def test_repeats_over_time_patch_the_series(tmp_path: Path) -> None:
    async with recorder(tmp_path) as (sim, events):
        for _ in range(5):
            events.record(JOB, type="Normal", reason="Skipped", message="gitops managed")
            await asyncio.sleep(60)
        [event] = events_in(sim, "team-a")
    assert event["series"]["count"] == 5
    assert parse_time(event["eventTime"]) == START
    assert parse_time(event["series"]["lastObservedTime"]) == START + 240
    assert [r.method for r in writes(sim)] == ["POST", "PATCH", "PATCH", "PATCH", "PATCH"]
    assert all("/apis/events.k8s.io/v1/" in r.path for r in writes(sim))


async def test_a_different_message_or_object_is_a_different_event(tmp_path: Path) -> None:
    other = ObjectReference(api_version="batch/v1", kind="Job", namespace="team-a",
                            name="report", uid="uid-2")
    async with recorder(tmp_path) as (sim, events):
        events.record(JOB, type="Normal", reason="CleanedUp", message="one")
        events.record(JOB, type="Normal", reason="CleanedUp", message="two")
        events.record(other, type="Normal", reason="CleanedUp", message="one")
        await asyncio.sleep(1)
        assert len(events_in(sim, "team-a")) == 3


async def test_an_event_deleted_meanwhile_is_created_anew(tmp_path: Path) -> None:
    async with recorder(tmp_path) as (sim, events):
        events.record(JOB, type="Normal", reason="CleanedUp", message="again")
        await asyncio.sleep(1)
        [first] = events_in(sim, "team-a")
        sim.delete("events.k8s.io/v1", "Event", first["metadata"]["name"], namespace="team-a")
        events.record(JOB, type="Normal", reason="CleanedUp", message="again")
        await asyncio.sleep(1)
        [second] = events_in(sim, "team-a")
    assert second["metadata"]["name"] != first["metadata"]["name"]


async def test_an_api_failure_is_counted_and_never_raised(tmp_path: Path) -> None:
    before = failed("api")
    async with recorder(tmp_path) as (sim, events):
        sim.faults.fail_next(1, 500, path="/events")
        events.record(JOB, type="Normal", reason="CleanedUp", message="lost")
        await asyncio.sleep(1)
        assert failed("api") == before + 1
        assert events_in(sim, "team-a") == []
        events.record(JOB, type="Normal", reason="CleanedUp", message="lost")
        await asyncio.sleep(1)
        [event] = events_in(sim, "team-a")
    assert count(event) == 2


async def test_writes_are_rate_limited_after_a_burst(tmp_path: Path) -> None:
    async with recorder(tmp_path, per_second=5, burst=25) as (sim, events):
        for index in range(100):
            events.record(JOB, type="Normal", reason="CleanedUp", message=f"n{index}")
        await asyncio.sleep(1)
        assert 25 <= len(writes(sim)) <= 31
        await asyncio.sleep(15)
        assert len(writes(sim)) == 100


async def test_too_many_waiting_events_are_dropped_and_counted(tmp_path: Path) -> None:
    before = failed("overflow")
    async with recorder(tmp_path, max_pending=10) as (sim, events):
        for index in range(15):
            events.record(JOB, type="Normal", reason="CleanedUp", message=f"n{index}")
        assert failed("overflow") == before + 5
        await asyncio.sleep(5)
        assert len(events_in(sim, "team-a")) == 10


async def test_events_about_cluster_scoped_objects_all_land_in_default(
    tmp_path: Path,
) -> None:
    namespace = ObjectReference(api_version="v1", kind="Namespace", name="team-b")
    node = ObjectReference(api_version="v1", kind="Node", name="node-1")
    async with recorder(tmp_path) as (sim, events):
        events.record(namespace, type="Normal", reason="CleanedUp", message="events")
        events.record(node, type="Warning", reason="ForceDeleted", message="pods")
        await asyncio.sleep(1)
        assert events_in(sim, "team-b") == []
        assert sorted(e["regarding"]["name"] for e in events_in(sim, "default")) == [
            "node-1", "team-b"]


async def test_a_long_note_is_cut_to_the_api_servers_kibibyte(tmp_path: Path) -> None:
    async with recorder(tmp_path) as (sim, events):
        events.record(JOB, type="Normal", reason="CleanedUp", message="é" * 2000)
        await asyncio.sleep(1)
        [event] = events_in(sim, "team-a")
    assert len(event["note"].encode()) <= 1024
    assert event["note"].endswith("...")


async def test_events_still_waiting_are_written_on_shutdown(tmp_path: Path) -> None:
    async with recorder(tmp_path, per_second=1, burst=1) as (sim, events):
        for index in range(3):
            events.record(JOB, type="Normal", reason="CleanedUp", message=f"n{index}")
        await asyncio.sleep(0.1)
        assert len(events_in(sim, "team-a")) == 1
    # Leaving the block cancelled the recorder (before the cluster stopped).
    assert len(events_in(sim, "team-a")) == 3
