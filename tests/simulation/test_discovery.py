"""Discovery: the documents kubernetes-asyncio and kubectl read to find resources.

Follows "Discovery API" in the Kubernetes API concepts.
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from gitops_lifecycle.simulation import SimulatedCluster


async def test_version_and_core_group(sim: SimulatedCluster, api: client.ApiClient) -> None:
    version = await client.VersionApi(api).get_code()
    core = await client.CoreApi(api).get_api_versions()
    assert version.major == "1"
    assert core.versions == ["v1"]


async def test_groups_list_every_served_group_with_a_preferred_version(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    groups = await client.ApisApi(api).get_api_versions()
    by_name = {g.name: g for g in groups.groups}
    assert {"batch", "apps", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io",
            "gitops.io", "external-secrets.io"} <= set(by_name)
    assert [v.version for v in by_name["external-secrets.io"].versions] == ["v1", "v1beta1"]
    assert by_name["external-secrets.io"].preferred_version.version == "v1"


@pytest.mark.parametrize("case", [
    ("BatchV1Api", "jobs", True, "Job"),
    ("CoreV1Api", "nodes", False, "Node"),
    ("AppsV1Api", "replicasets", True, "ReplicaSet"),
    ("CoordinationV1Api", "leases", True, "Lease"),
])
async def test_resource_lists_name_kinds_verbs_and_scope(
    sim: SimulatedCluster, api: client.ApiClient, case: tuple[str, str, bool, str],
) -> None:
    api_class, name, namespaced, kind = case
    resources = await getattr(client, api_class)(api).get_api_resources()
    row = next(r for r in resources.resources if r.name == name)
    assert (row.namespaced, row.kind) == (namespaced, kind)
    assert {"list", "watch", "delete", "patch"} <= set(row.verbs)


async def test_kinds_with_status_list_the_status_subresource(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    resources = await client.BatchV1Api(api).get_api_resources()
    assert {"jobs", "jobs/status", "cronjobs", "cronjobs/status"} <= {
        r.name for r in resources.resources}
