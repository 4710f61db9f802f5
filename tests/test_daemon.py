"""The daemon's wiring: what runs where, and controllers acting only while leading."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle import daemon
from gitops_lifecycle.clock import SimClock, format_time
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ServerError, TooManyRequestsError
from gitops_lifecycle.kube.leader import Flag
from gitops_lifecycle.settings import Settings
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

START = 1_700_000_000.0
HOUR = 3600.0


class Journal:
    """A controller that notes when it starts and stops."""

    def __init__(self, name: str = "journal", *, crash_after: float | None = None) -> None:
        self.name = name
        self.entries: list[str] = []
        self.crash_after = crash_after

    async def run(self) -> None:
        self.entries.append("start")
        try:
            if self.crash_after is not None:
                await asyncio.sleep(self.crash_after)
                raise RuntimeError("controller bug")
            await asyncio.Future()
        finally:
            self.entries.append("stop")


class FakeElector:
    """Leadership switched by the test."""

    def __init__(self) -> None:
        self.is_leader = Flag()


def settings(**overrides: Any) -> Settings:
    return Settings.model_validate(overrides)


def test_without_a_cluster_only_the_server_runs() -> None:
    names = [c.name for c in daemon.components(settings(), Health())]
    assert names == ["server"]


async def test_the_server_starts_first_and_controllers_last(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    async with SimulatedCluster(clock=SimClock(start=START)) as sim:
        sim.ensure_namespaces("gitops-system")  # where the daemon runs
        sim.write_kubeconfig(kubeconfig)
        config = settings(kubernetes={"kubeconfig": str(kubeconfig)})
        async with Kube.from_settings(config.kubernetes) as kube:
            built = daemon.components(config, Health(), kube=kube, clock=sim.clock)
    names = [c.name for c in built]
    assert names[:2] == ["server", "event-recorder"]
    informers = [n for n in names if n.startswith("informer:")]
    assert set(informers) == {"informer:jobs", "informer:pods", "informer:replicasets",
                              "informer:deployments"}
    elector = names.index("leader-election")
    assert all(names.index(n) < elector for n in informers)
    controllers = names[elector + 1:]
    assert set(controllers) == {"cleanup-jobs", "cleanup-stuck-pods", "cleanup-replicasets",
                                "cleanup-events", "retry-metrics"}
    assert all(isinstance(c, daemon.WhileLeading) for c in built[elector + 1:])


async def test_a_controller_runs_only_while_leading() -> None:
    journal = Journal()
    elector = FakeElector()
    gated = daemon.WhileLeading(journal, elector)
    task = asyncio.create_task(gated.run())
    await asyncio.sleep(10)
    assert journal.entries == []
    elector.is_leader.set(True)
    await asyncio.sleep(1)
    assert journal.entries == ["start"]
    elector.is_leader.set(False)
    await asyncio.sleep(1)
    assert journal.entries == ["start", "stop"]
    assert not task.done()
    elector.is_leader.set(True)
    await asyncio.sleep(1)
    assert journal.entries == ["start", "stop", "start"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert journal.entries[-1] == "stop"


async def test_a_controller_crash_reaches_the_manager() -> None:
    elector = FakeElector()
    elector.is_leader.set(True)
    gated = daemon.WhileLeading(Journal(crash_after=5), elector)
    with pytest.raises(RuntimeError, match="controller bug"):
        await gated.run()


class Flaky:
    """A controller that an API error (alone or in a task group) ends twice, then runs."""

    name = "flaky"

    def __init__(self) -> None:
        self.starts = 0

    async def run(self) -> None:
        self.starts += 1
        if self.starts == 1:
            raise ServerError(500, "InternalError", "etcd is down")
        if self.starts == 2:
            raise ExceptionGroup("sweep", [TooManyRequestsError(429, "TooMany", "slow down")])
        await asyncio.Future()


async def test_item5_a_controller_ended_by_an_api_error_is_restarted_not_fatal() -> None:
    elector = FakeElector()
    elector.is_leader.set(True)
    flaky = Flaky()
    gated = daemon.WhileLeading(flaky, elector)
    task = asyncio.create_task(gated.run())
    await asyncio.sleep(0.5)
    assert "etcd is down" in (gated.readiness() or "")
    await asyncio.sleep(10)
    assert flaky.starts == 3
    assert not task.done()
    assert gated.readiness() is None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_without_leader_election_a_controller_runs_at_once() -> None:
    journal = Journal()
    task = asyncio.create_task(daemon.WhileLeading(journal, None).run())
    await asyncio.sleep(1)
    assert journal.entries == ["start"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_an_unusable_cluster_configuration_exits_1(tmp_path: Path) -> None:
    (tmp_path / "no-context").write_text("apiVersion: v1\nkind: Config\n")
    config = settings(kubernetes={"kubeconfig": str(tmp_path / "no-context")},
                      server={"host": "127.0.0.1", "port": 0})
    assert await daemon.run(config, asyncio.Event()) == 1


def finished_job(name: str, *, finished: float) -> dict[str, Any]:
    stamp = format_time(finished)
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": stamp},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}},
        "status": {"succeeded": 1, "completionTime": stamp, "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": stamp}]},
    }


async def test_the_leading_daemon_deletes_a_job_at_its_expiry_and_releases_the_lease(
    tmp_path: Path,
) -> None:
    clock = SimClock(start=START)
    async with SimulatedCluster(clock=clock) as sim:
        sim.ensure_namespaces("gitops-system")  # where the daemon runs
        sim.create(finished_job("old", finished=START - HOUR - 60))
        sim.create(finished_job("young", finished=START - HOUR + 600))
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        config = settings(kubernetes={"kubeconfig": str(kubeconfig),
                                      "leaderElection": {"identity": "only"}},
                          server={"host": "127.0.0.1", "port": 0})
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(config, stop, clock=clock))
        await asyncio.sleep(5)
        lease = sim.get("coordination.k8s.io/v1", "Lease", "gitops-lifecycle-management",
                        "gitops-system")
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == "only"
        names = {j["metadata"]["name"] for j in sim.list("batch/v1", "Job")}
        assert names == {"young"}
        await asyncio.sleep(600)
        assert sim.list("batch/v1", "Job") == []
        deletions = [r for r in sim.requests if r.method == "DELETE" and "/jobs/" in r.path]
        assert [r.time for r in deletions][-1] <= START + 600 + 1
        stop.set()
        assert await task == 0
        lease = sim.get("coordination.k8s.io/v1", "Lease", "gitops-lifecycle-management",
                        "gitops-system")
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == ""
        events = sim.list("events.k8s.io/v1", "Event", "default")
        assert {e["regarding"]["name"] for e in events} >= {"old", "young"}


def test_a_fast_simulated_clock_leaves_leader_election_and_qps_on_real_time() -> None:
    assert not isinstance(daemon._real_time_clock(SimClock(speed=600)), SimClock)
    clock = SimClock(speed=1)
    assert daemon._real_time_clock(clock) is clock


WAIT_SUMMARY = ('{"check":"postgres","target":"postgresql://app:***@db:5432/app","attempts":3,'
                '"duration_seconds":4.5,"outcome":"ready","last_error":"refused"}')


def pod_after_wait(name: str, *, finished: float) -> dict[str, Any]:
    terminated = {"exitCode": 0, "reason": "Completed", "message": WAIT_SUMMARY,
                  "finishedAt": format_time(finished)}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "waits"},
        "spec": {"initContainers": [{"name": "wait-db", "image": "x"}],
                 "containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Running", "initContainerStatuses": [
            {"name": "wait-db", "restartCount": 0, "state": {"terminated": terminated}}]},
    }


def waits_counted() -> tuple[float, float]:
    labels = {"operation": "postgres", "namespace": "waits"}
    attempts = REGISTRY.get_sample_value("gitops_retry_attempts_total", labels) or 0.0
    success = REGISTRY.get_sample_value("gitops_retry_success_total", labels) or 0.0
    return attempts, success


async def test_a_finished_wait_counts_once_in_the_daemon_and_not_again_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = SimClock(start=START)
    async with SimulatedCluster(clock=clock) as sim:
        sim.ensure_namespaces("gitops-system")  # where the daemon runs
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        config = settings(kubernetes={"kubeconfig": str(kubeconfig)},
                          server={"host": "127.0.0.1", "port": 0})
        before = waits_counted()
        for generation in range(2):
            stop = asyncio.Event()
            task = asyncio.create_task(daemon.run(config, stop, clock=clock))
            await asyncio.sleep(20)  # long enough to lead, also after the previous release
            if generation == 0:
                sim.create(pod_after_wait("app", finished=clock.now()))
                await asyncio.sleep(5)
            stop.set()
            assert await task == 0
            assert waits_counted() == (before[0] + 3, before[1] + 1)


async def test_item5_rbac_forbidding_a_watched_resource_at_start_up_exits_naming_it(
    tmp_path: Path,
) -> None:
    async with SimulatedCluster(clock=SimClock(start=START)) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        config = settings(kubernetes={"kubeconfig": str(kubeconfig)},
                          server={"host": "127.0.0.1", "port": 0})
        sim.faults.fail_next(10**6, 403, method="GET", path=r"/replicasets")
        assert await asyncio.wait_for(daemon.run(config, asyncio.Event(), clock=sim.clock),
                                      30) == 1


async def test_item5_transient_errors_at_start_up_do_not_end_the_daemon(tmp_path: Path) -> None:
    async with SimulatedCluster(clock=SimClock(start=START)) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        config = settings(kubernetes={"kubeconfig": str(kubeconfig)},
                          server={"host": "127.0.0.1", "port": 0})
        sim.faults.fail_next(40, 500)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(config, stop, clock=sim.clock))
        await asyncio.sleep(120)
        assert not task.done()
        stop.set()
        assert await task == 0
