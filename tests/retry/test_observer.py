"""Retry metrics from init containers' termination messages, counted once per run."""

from __future__ import annotations

import asyncio
from itertools import count
from typing import Self

import msgspec
import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.clock import SimClock, format_time
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Pod
from gitops_lifecycle.kube.resources import PODS
from gitops_lifecycle.retry.observer import RetryObserver
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime
_namespaces = count()
SUMMARY = ('{"check":"postgres","target":"postgresql://app:***@db:5432/app","attempts":4,'
           '"duration_seconds":7.5,"outcome":"ready","last_error":"refused"}')


@pytest.fixture
def namespace() -> str:
    return f"observed-{next(_namespaces)}"


def sample(metric: str, namespace: str, operation: str = "postgres") -> float:
    value = REGISTRY.get_sample_value(metric, {"operation": operation, "namespace": namespace})
    return value or 0.0


def pod_with_init(sim: SimulatedCluster, namespace: str, *, message: str = SUMMARY,
                  finished: float | None = None, restarts: int = 0) -> dict[str, object]:
    when = format_time(sim.clock.now() if finished is None else finished)
    terminated = {"exitCode": 0, "reason": "Completed", "message": message, "finishedAt": when}
    return sim.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "app", "namespace": namespace},
        "spec": {"initContainers": [{"name": "wait-db", "image": "x"}],
                 "containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Running", "initContainerStatuses": [
            {"name": "wait-db", "restartCount": restarts, "state": {"terminated": terminated}},
        ]},
    })


class Daemon:
    """An informer on pods with an observer subscribed, as the daemon wires them."""

    def __init__(self, kube: Kube, clock: SimClock) -> None:
        self.informer = Informer(kube=kube, resource=PODS, record=Pod, clock=clock)
        self.informer.subscribe(RetryObserver(clock=clock))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(self.informer.run())
        await asyncio.wait_for(self.informer.has_synced.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_a_finished_wait_is_counted_once_and_not_again_after_a_restart(sim, kube, namespace):
    async with Daemon(kube, sim.clock):
        await asyncio.sleep(1)
        made = pod_with_init(sim, namespace)
        await asyncio.sleep(2)
        assert sample("gitops_retry_success_total", namespace) == 1
        assert sample("gitops_retry_attempts_total", namespace) == 4
        assert sample("gitops_retry_duration_seconds_sum", namespace) == 7.5
        made["metadata"]["labels"] = {"touched": "yes"}  # type: ignore[index]
        sim.update(made)
        await asyncio.sleep(2)
    await asyncio.sleep(5)
    async with Daemon(kube, sim.clock):
        await asyncio.sleep(2)
    assert sample("gitops_retry_success_total", namespace) == 1
    assert sample("gitops_retry_attempts_total", namespace) == 4


async def test_runs_that_ended_before_the_daemon_started_are_not_counted(sim, kube, namespace):
    pod_with_init(sim, namespace, finished=sim.clock.now() - 60)
    async with Daemon(kube, sim.clock):
        await asyncio.sleep(2)
    assert sample("gitops_retry_attempts_total", namespace) == 0


def test_each_restart_of_a_container_is_its_own_run():
    observer = RetryObserver(started=0)
    failed = SUMMARY.replace('"ready"', '"timeout"')
    terminated = {"message": failed, "finishedAt": "2030-01-01T00:00:00Z"}
    namespace = "restarts"

    def pod(restarts: int, last: dict[str, str] | None) -> Pod:
        status = {"name": "wait-db", "restartCount": restarts, "state": {"terminated": terminated}}
        if last:
            status["lastState"] = {"terminated": last}
        return msgspec.convert({"metadata": {"uid": "u1", "namespace": namespace},
                                "status": {"initContainerStatuses": [status]}}, Pod)

    observer("ADDED", None, pod(0, None))
    observer("MODIFIED", None, pod(1, terminated))
    observer("MODIFIED", None, pod(1, terminated))
    assert sample("gitops_retry_failure_total", namespace) == 2
    observer("DELETED", pod(1, terminated), None)
    assert observer._seen == {}


def test_containers_without_our_summary_are_ignored():
    observer = RetryObserver(started=0)
    namespace = "foreign"
    pod = msgspec.convert({
        "metadata": {"uid": "u2", "namespace": namespace},
        "status": {"containerStatuses": [{"name": "app", "state": {"terminated": {
            "message": "panic: oh no", "finishedAt": "2030-01-01T00:00:00Z"}}}]},
    }, Pod)
    observer("ADDED", None, pod)
    assert sample("gitops_retry_failure_total", namespace, "app") == 0
