"""The simulated cluster answers kubernetes-asyncio's basic calls."""

from __future__ import annotations

from kubernetes_asyncio import client
from sim_objects import job

from gitops_lifecycle.simulation import SimulatedCluster


async def test_a_job_created_directly_is_listed_and_read_through_the_api(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    sim.create(job("backup", "ops"))
    batch = client.BatchV1Api(api)
    listed = await batch.list_namespaced_job("ops")
    read = await batch.read_namespaced_job("backup", "ops")
    assert [j.metadata.name for j in listed.items] == ["backup"]
    assert read.metadata.uid == sim.get("batch/v1", "Job", "backup", "ops")["metadata"]["uid"]
