"""The client's circuit breaker: a failing API server is not hammered, and recovery is noticed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.kube import errors
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.records import Job
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.settings import CircuitBreakerSettings, KubernetesSettings
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

CIRCUIT = CircuitBreakerSettings(failure_threshold=3, recovery_timeout=30)


@pytest.fixture
async def kube(sim: SimulatedCluster, tmp_path: Path) -> AsyncIterator[Kube]:
    path = sim.write_kubeconfig(tmp_path / "kubeconfig")
    settings = KubernetesSettings(kubeconfig=path, qps=1000, burst=1000)
    async with Kube.from_settings(settings, circuit=CIRCUIT) as client:
        yield client


def job_requests(sim: SimulatedCluster) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/jobs/absent"))


def circuit_open() -> float | None:
    return REGISTRY.get_sample_value("gitops_circuit_breaker_open", {"name": "kubernetes"})


async def test_server_errors_open_the_circuit_and_later_requests_fail_fast(
    sim: SimulatedCluster, kube: Kube
) -> None:
    sim.faults.fail_next(100, 503)
    for _ in range(3):
        with pytest.raises(errors.ServerError):
            await kube.get(JOBS, "absent", namespace="default", record=Job)
    reached = job_requests(sim)
    with pytest.raises(errors.APIConnectionError, match="circuit 'kubernetes' is open"):
        await kube.get(JOBS, "absent", namespace="default", record=Job)
    assert job_requests(sim) == reached == 3
    assert circuit_open() == 1


async def test_the_circuit_closes_after_a_successful_trial_request(
    sim: SimulatedCluster, kube: Kube
) -> None:
    sim.faults.fail_next(3, 500)
    for _ in range(3):
        with pytest.raises(errors.ServerError):
            await kube.get(JOBS, "absent", namespace="default", record=Job)
    await asyncio.sleep(31)
    with pytest.raises(errors.NotFoundError):  # an answer, so the circuit closes
        await kube.get(JOBS, "absent", namespace="default", record=Job)
    assert circuit_open() == 0


async def test_client_errors_do_not_count_against_the_circuit(kube: Kube) -> None:
    for _ in range(5):
        with pytest.raises(errors.NotFoundError):
            await kube.get(JOBS, "absent", namespace="default", record=Job)
    assert circuit_open() == 0
