"""LIST conformance: chunks, continue tokens, selectors and list resourceVersions.

Follows the Kubernetes API concepts: "Retrieving large results sets in chunks" and
"Resource versions" (https://kubernetes.io/docs/reference/using-api/api-concepts/).
"""

from __future__ import annotations

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from sim_objects import job, pod, proxy_config

from gitops_lifecycle.simulation import SimulatedCluster


async def test_chunks_hold_every_object_once_at_one_resource_version(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """API concepts, retrieving large results sets in chunks: follow `continue` to the end."""
    for index in range(23):
        sim.create(job(f"job-{index:02}", f"ns-{index % 3}"))
    batch = client.BatchV1Api(api)
    names, versions, token = [], set(), None
    while True:
        page = await batch.list_job_for_all_namespaces(limit=5, _continue=token)
        names += [f"{j.metadata.namespace}/{j.metadata.name}" for j in page.items]
        versions.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
    assert sorted(names) == names
    assert len(set(names)) == len(names) == 23
    assert versions == {str(sim.resource_version)}


async def test_later_chunks_show_the_list_as_it_was_when_it_began(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """API concepts, chunks: every chunk is served at the first chunk's resourceVersion."""
    for index in range(6):
        sim.create(job(f"job-{index}"))
    batch = client.BatchV1Api(api)
    first = await batch.list_namespaced_job("default", limit=3)
    sim.delete("batch/v1", "Job", "job-4", namespace="default")
    sim.create(job("job-9"))
    rest = await batch.list_namespaced_job("default", limit=10, _continue=first.metadata._continue)
    assert [j.metadata.name for j in rest.items] == ["job-3", "job-4", "job-5"]
    assert rest.metadata.resource_version == first.metadata.resource_version


async def test_a_continue_token_past_the_retained_history_is_410_expired_with_a_fresh_token(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """API concepts, chunks: an expired token answers 410 and offers an inconsistent token."""
    for index in range(4):
        sim.create(job(f"job-{index}"))
    first = await (await http.get("/apis/batch/v1/jobs", params={"limit": "2"})).json()
    sim.create(job("late"))
    sim.faults.compact()
    response = await http.get("/apis/batch/v1/jobs", params={
        "limit": "2", "continue": first["metadata"]["continue"]})
    status = await response.json()
    assert response.status == 410
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)
    fresh = await (await http.get("/apis/batch/v1/jobs", params={
        "limit": "10", "continue": status["metadata"]["continue"]})).json()
    assert [j["metadata"]["name"] for j in fresh["items"]] == ["job-2", "job-3", "late"]


async def test_expired_continue_tokens_fail_even_without_compaction(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    for index in range(4):
        sim.create(job(f"job-{index}"))
    batch = client.BatchV1Api(api)
    first = await batch.list_job_for_all_namespaces(limit=2)
    sim.faults.expire_continue_tokens()
    with pytest.raises(ApiException) as caught:
        await batch.list_job_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    assert caught.value.status == 410


async def test_list_items_omit_kind_for_builtin_kinds_and_keep_it_for_custom_resources(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """API conventions: built-in list items carry no kind/apiVersion; the list does."""
    sim.create(job("a"))
    sim.create(proxy_config("p"))
    jobs = await (await http.get("/apis/batch/v1/jobs")).json()
    proxies = await (await http.get("/apis/gitops.io/v1/proxyconfigs")).json()
    assert (jobs["kind"], jobs["apiVersion"]) == ("JobList", "batch/v1")
    assert "kind" not in jobs["items"][0]
    assert proxies["items"][0]["kind"] == "ProxyConfig"


@pytest.mark.parametrize(("selector", "expected"), [
    ("app=web", ["web-1", "web-2"]),
    ("app==web", ["web-1", "web-2"]),
    ("app!=web", ["db", "bare"]),
    ("tier in (front, back)", ["web-1", "db"]),
    ("tier notin (front)", ["web-2", "db", "bare"]),
    ("app", ["web-1", "web-2", "db"]),
    ("!app", ["bare"]),
    ("app=web,tier=front", ["web-1"]),
])
async def test_label_selectors_select_like_the_real_server(
    sim: SimulatedCluster, api: client.ApiClient, selector: str, expected: list[str]
) -> None:
    """API concepts / labels: equality- and set-based requirements."""
    labels = {"web-1": {"app": "web", "tier": "front"}, "web-2": {"app": "web"},
              "db": {"app": "db", "tier": "back"}, "bare": {}}
    for name, pod_labels in labels.items():
        sim.create(pod(name, metadata={"labels": pod_labels}))
    listed = await client.CoreV1Api(api).list_namespaced_pod("default", label_selector=selector)
    assert sorted(p.metadata.name for p in listed.items) == sorted(expected)


async def test_field_selectors_on_phase_node_and_involved_object(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """Field selectors: pods by status.phase and spec.nodeName; events by involvedObject."""
    sim.create(pod("running", node="a"))
    sim.create(pod("failed", node="b", status={"phase": "Failed"}))
    sim.create({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "e1", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "failed", "namespace": "default"},
                "reason": "BackOff", "type": "Warning"})
    core = client.CoreV1Api(api)
    failed = await core.list_pod_for_all_namespaces(field_selector="status.phase=Failed")
    on_a = await core.list_namespaced_pod("default", field_selector="spec.nodeName=a")
    not_a = await core.list_namespaced_pod("default", field_selector="spec.nodeName!=a")
    events = await core.list_namespaced_event(
        "default", field_selector="involvedObject.kind=Pod,involvedObject.name=failed")
    assert [p.metadata.name for p in failed.items] == ["failed"]
    assert [p.metadata.name for p in on_a.items] == ["running"]
    assert [p.metadata.name for p in not_a.items] == ["failed"]
    assert [e.metadata.name for e in events.items] == ["e1"]


async def test_an_unsupported_field_selector_is_a_400(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    """The real server refuses field labels a kind does not index."""
    with pytest.raises(ApiException) as caught:
        await client.BatchV1Api(api).list_job_for_all_namespaces(field_selector="spec.foo=x")
    assert caught.value.status == 400
    assert "field label not supported: spec.foo" in caught.value.body


async def test_a_namespaced_list_only_returns_that_namespace(
    sim: SimulatedCluster, api: client.ApiClient
) -> None:
    for namespace in ("a", "ab", "b"):
        sim.create(job("x", namespace))
    listed = await client.BatchV1Api(api).list_namespaced_job("a")
    assert [j.metadata.namespace for j in listed.items] == ["a"]


async def test_a_list_at_a_future_resource_version_is_refused(
    sim: SimulatedCluster, http: aiohttp.ClientSession
) -> None:
    """Resource versions: the server cannot serve a version it has not reached."""
    response = await http.get("/apis/batch/v1/jobs", params={"resourceVersion": "999"})
    assert response.status == 504
