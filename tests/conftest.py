"""Fixtures shared across the suite: a simulated cluster and our client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Every reader of labels and annotations declares its keys when imported (`kube.kept`), and
# caches keep no other: the daemon imports them all before any informer lists, and so do the
# tests, whichever of them run.
import gitops_lifecycle.daemon  # noqa: F401
from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.settings import KubernetesSettings
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests import audit


def pytest_configure(config: pytest.Config) -> None:
    # Gather what the daemon and `wait` ask every simulated cluster for, for the RBAC check.
    audit.start()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that judge the whole run's requests go after every other test (stable order).
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCluster]:
    """A simulated API server on loopback, its kubelet off (tests step pods themselves)."""
    async with SimulatedCluster(clock=SimClock(), kubelet=False) as cluster:
        cluster.ensure_namespaces("gitops-system")  # where the daemon keeps its Lease and state
        yield cluster


@pytest.fixture
def kubeconfig(sim: SimulatedCluster, tmp_path: Path) -> Path:
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    """Our client, its QPS limit out of the way of tests that are about something else."""
    settings = KubernetesSettings(kubeconfig=kubeconfig, qps=1000, burst=1000)
    async with Kube.from_settings(settings) as client:
        yield client


@pytest.fixture
async def sim_authentik() -> AsyncIterator[SimulatedAuthentik]:
    """A simulated Authentik on loopback (`.url`, `.token`), validating every request body
    with authentik-client's models: the fixture fails if that package is missing."""
    async with SimulatedAuthentik(clock=SimClock(), validate_schema="on") as authentik:
        yield authentik
