"""A simulated cluster and a kubernetes-asyncio client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import kubernetes
import pytest
from kubernetes_asyncio import client, config

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCluster]:
    async with SimulatedCluster(clock=SimClock(start=1_700_000_000.0)) as cluster:
        yield cluster


@pytest.fixture
async def api(sim: SimulatedCluster, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    configuration = client.Configuration()
    await config.load_kube_config(str(sim.write_kubeconfig(tmp_path / "kubeconfig")),
                                  client_configuration=configuration)
    async with client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
async def http(sim: SimulatedCluster) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP session on the simulated cluster, for what the typed client hides."""
    async with aiohttp.ClientSession(base_url=sim.url) as session:
        yield session


@pytest.fixture
def kubeconfig(sim: SimulatedCluster, tmp_path: Path) -> Path:
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def official(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """The official (synchronous) `kubernetes` client: call it with `asyncio.to_thread`."""
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api_client
    finally:
        api_client.close()
