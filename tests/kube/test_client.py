"""The API client: verbs, error mapping, authentication and the client-side QPS limit."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from pydantic import ValidationError

from gitops_lifecycle.kube import errors
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.records import Job, Object, Pod
from gitops_lifecycle.kube.resources import JOBS, NODES, PODS
from gitops_lifecycle.settings import KubernetesSettings

pytestmark = pytest.mark.looptime


def job(name: str) -> dict[str, object]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}}}


def write_kubeconfig(path: Path, url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def settings(path: Path, **options: object) -> KubernetesSettings:
    return KubernetesSettings(kubeconfig=path, qps=1000, burst=1000, **options)  # type: ignore[arg-type]


async def test_get_decodes_the_object_into_the_record(sim, kube):
    sim.create(job("a"))
    found = await kube.get(JOBS, "a", namespace="default", record=Job)
    assert found.key == "default/a"
    assert found.metadata.uid


async def test_a_missing_object_is_not_found(kube):
    with pytest.raises(errors.NotFoundError) as caught:
        await kube.get(JOBS, "missing", namespace="default", record=Job)
    assert caught.value.status == 404
    assert caught.value.reason == "NotFound"


async def test_creating_an_existing_object_conflicts(kube):
    await kube.create(JOBS, job("a"), namespace="default", record=Job)
    with pytest.raises(errors.ConflictError) as caught:
        await kube.create(JOBS, job("a"), namespace="default", record=Job)
    assert caught.value.reason == "AlreadyExists"


async def test_a_dry_run_create_stores_nothing(sim, kube):
    await kube.create(JOBS, job("a"), namespace="default", record=Job, dry_run=True)
    assert sim.get("batch/v1", "Job", "a", "default") is None


async def test_replace_with_a_stale_resource_version_conflicts(sim, kube):
    created = sim.create(job("a"))
    sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "1"}}}, namespace="default")
    with pytest.raises(errors.ConflictError):
        await kube.replace(JOBS, "a", created, namespace="default", record=Job)


@pytest.mark.parametrize(("patch_type", "body"), [
    ("merge", {"metadata": {"labels": {"x": "y"}}}),
    ("strategic", {"metadata": {"labels": {"x": "y"}}}),
    ("json", [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]),
])
async def test_patch_applies_each_patch_type(sim, kube, patch_type, body):
    sim.create(job("a"))
    patched = await kube.patch(JOBS, "a", body, namespace="default", record=Job,
                               patch_type=patch_type)
    assert patched.metadata.labels == {"x": "y"}


async def test_delete_with_a_stale_uid_precondition_conflicts_and_keeps_the_object(sim, kube):
    sim.create(job("a"))
    with pytest.raises(errors.ConflictError):
        await kube.delete(JOBS, "a", namespace="default", uid="someone-else")
    assert sim.get("batch/v1", "Job", "a", "default") is not None


async def test_delete_with_matching_preconditions_removes_the_object(sim, kube):
    meta = sim.create(job("a"))["metadata"]
    await kube.delete(JOBS, "a", namespace="default", uid=meta["uid"],
                      resource_version=meta["resourceVersion"], propagation_policy="Background")
    assert sim.get("batch/v1", "Job", "a", "default") is None


async def test_a_dry_run_delete_keeps_the_object(sim, kube):
    sim.create(job("a"))
    await kube.delete(JOBS, "a", namespace="default", dry_run=True)
    assert sim.get("batch/v1", "Job", "a", "default") is not None


async def test_a_graceful_pod_delete_leaves_it_terminating(sim, kube):
    sim.create({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}})
    await kube.delete(PODS, "p", namespace="default", grace_period_seconds=30)
    pod = await kube.get(PODS, "p", namespace="default", record=Pod)
    assert pod.metadata.deletion_timestamp is not None


async def test_list_page_returns_items_and_a_continue_token(sim, kube):
    for name in ("a", "b", "c"):
        sim.create(job(name))
    page = await kube.list_page(JOBS, record=Job, limit=2)
    assert [j.metadata.name for j in page.items] == ["a", "b"]
    rest = await kube.list_page(JOBS, record=Job, limit=2, continue_token=page.metadata.continue_)
    assert [j.metadata.name for j in rest.items] == ["c"]
    assert rest.metadata.continue_ == ""
    assert rest.metadata.resource_version


async def test_cluster_scoped_resources_have_no_namespace_in_the_path(sim, kube):
    sim.set_node_ready("n1")
    node = await kube.get(NODES, "n1", record=Object)
    assert node.key == "n1"


async def test_throttling_carries_the_servers_retry_after(sim, kube):
    sim.faults.fail_next(1, 429, retry_after=3)
    with pytest.raises(errors.TooManyRequestsError) as caught:
        await kube.list_page(JOBS, record=Job)
    assert caught.value.retry_after == 3


async def test_a_retry_after_of_an_hour_is_cut_to_a_minute(sim, kube):
    sim.faults.fail_next(1, 429, retry_after=3600)
    with pytest.raises(errors.TooManyRequestsError) as caught:
        await kube.list_page(JOBS, record=Job)
    assert caught.value.retry_after == 60


async def test_a_list_page_may_take_longer_than_a_request_up_to_the_list_timeout(sim, tmp_path):
    sim.create(job("a"))
    path = sim.write_kubeconfig(tmp_path / "kubeconfig")
    async with Kube.from_settings(settings(path, request_timeout=30, list_timeout=60)) as kube:
        sim.faults.latency(45)  # a page of large objects from a busy server
        page = await kube.list_page(JOBS, record=Job)
        assert [item.metadata.name for item in page.items] == ["a"]
        with pytest.raises(errors.APIConnectionError):
            await kube.get(JOBS, "a", namespace="default", record=Job)


async def test_server_failures_are_server_errors(sim, kube):
    sim.faults.fail_next(1, 503)
    with pytest.raises(errors.ServerError) as caught:
        await kube.list_page(JOBS, record=Job)
    assert caught.value.status == 503


async def test_watch_yields_decoded_events(sim, kube):
    rv = str(sim.resource_version)
    sim.create(job("a"))
    events = kube.watch(JOBS, record=Job, resource_version=rv, timeout_seconds=5)
    async with aclosing(events):
        event = await anext(events)
    assert event.type == "ADDED"
    assert event.object.key == "default/a"


async def test_a_watch_from_a_compacted_version_raises_gone(sim, kube):
    sim.create(job("a"))
    sim.create(job("b"))
    sim.faults.compact()
    events = kube.watch(JOBS, record=Job, resource_version="1", timeout_seconds=5)
    async with aclosing(events):
        with pytest.raises(errors.GoneError):
            await anext(events)


async def test_requests_beyond_the_burst_wait_for_the_qps_limit(sim, tmp_path):
    path = sim.write_kubeconfig(tmp_path / "kubeconfig")
    config = KubernetesSettings(kubeconfig=path, qps=2, burst=2)
    async with Kube.from_settings(config, clock=sim.clock) as kube:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(6):
            await kube.list_page(JOBS, record=Job)
        elapsed = loop.time() - started
    assert elapsed == pytest.approx(2, abs=0.2)  # 2 at once, then 4 at 2/s


async def test_a_refused_connection_is_a_connection_error_with_the_cause_chained(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    async with Kube.from_settings(KubernetesSettings(kubeconfig=path)) as kube:
        with pytest.raises(errors.APIConnectionError) as caught:
            await kube.request("GET", "/version")
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_using_the_client_outside_its_context_is_an_error(tmp_path):
    kube = Kube.from_settings(KubernetesSettings())
    with pytest.raises(errors.KubeError):
        await kube.request("GET", "/version")


async def test_a_missing_kubeconfig_is_an_invalid_setting(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        KubernetesSettings(kubeconfig=tmp_path / "none")


async def test_a_kubeconfig_without_a_context_is_a_configuration_error(tmp_path):
    (tmp_path / "empty").write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(errors.ConfigurationError):
        async with Kube.from_settings(KubernetesSettings(kubeconfig=tmp_path / "empty")):
            pass


@pytest.fixture
async def header_server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def version(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"major": "1", "minor": "31"})

    app = web.Application()
    app.router.add_get("/version", version)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", seen
    await runner.cleanup()


async def test_the_kubeconfig_context_chooses_the_server_and_bearer_token(header_server,
                                                                           tmp_path):
    url, seen = header_server
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "sim", "cluster": {"server": url}},
                     {"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "robot", "user": {"token": "s3cret"}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "robot"}},
                     {"name": "other", "context": {"cluster": "elsewhere", "user": "robot"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    async with Kube.from_settings(KubernetesSettings(kubeconfig=path, context="sim")) as kube:
        assert kube.host == url
        await kube.request("GET", "/version")
    assert seen[0]["Authorization"] == "Bearer s3cret"
    assert seen[0]["User-Agent"].startswith("gitops-lifecycle/")
