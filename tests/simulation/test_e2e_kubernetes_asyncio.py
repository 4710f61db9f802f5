"""The calls of kubernetes-asyncio's own end-to-end suite (`kubernetes_asyncio/e2e_test/` in its
repository), made through that client against the simulated cluster, with the same checks.

Left out: `connect_get_namespaced_pod_exec` and `connect_post_namespaced_pod_exec` in its
`test_pod_apis` — exec needs a container runtime behind a WebSocket, which the simulated
cluster does not have (its pods "run" on the clock, with no processes).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes_asyncio import client, config, utils
from kubernetes_asyncio.dynamic import DynamicClient

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.7.9
        ports:
        - containerPort: 80
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    """The client on a running cluster with one Ready node, as a kind cluster would be."""
    async with SimulatedCluster(clock=SimClock(), controllers=True) as sim:
        sim.set_node_ready("kind-control-plane")
        configuration = client.Configuration()
        await config.load_kube_config(str(sim.write_kubeconfig(tmp_path / "kubeconfig")),
                                      client_configuration=configuration)
        async with client.ApiClient(configuration) as api_client:
            yield api_client


def short_uuid() -> str:
    return str(uuid.uuid4())[-12:]


def busybox(name: str) -> client.V1Pod:
    return client.V1Pod(
        api_version="v1", kind="Pod", metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(containers=[client.V1Container(
            image="busybox", name="sleep",
            args=["/bin/sh", "-c", "while true;do date;sleep 5; done"])]))


async def test_pod_apis(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = "busybox-test-" + short_uuid()
    resp = await core.create_namespaced_pod(body=busybox(name), namespace="default")
    assert resp.metadata.name == name
    assert resp.status.phase
    while True:
        resp = await core.read_namespaced_pod(name=name, namespace="default")
        assert resp.metadata.name == name
        assert resp.status.phase
        if resp.status.phase != "Pending":
            break
        await asyncio.sleep(1)
    listed = await core.list_pod_for_all_namespaces()
    assert len(listed.items) > 0
    await core.delete_namespaced_pod(name=name, body={}, namespace="default")


async def test_dynamic_client_pod_apis(api: client.ApiClient) -> None:
    dynamic = await DynamicClient(api)
    pods = await dynamic.resources.get(kind="Pod", api_version="v1")
    name = "busybox-test-" + short_uuid()
    manifest = api.sanitize_for_serialization(busybox(name))
    resp = await dynamic.create(pods, body=manifest, namespace="default")
    assert resp.metadata.name == name
    assert resp.status.phase
    while True:
        resp = await dynamic.get(pods, name=name, namespace="default")
        assert resp.metadata.name == name
        assert resp.status.phase
        if resp.status.phase != "Pending":
            break
        await asyncio.sleep(1)
    listed = await dynamic.get(pods)
    assert len(listed.items) > 0
    await dynamic.delete(pods, name=name, body={}, namespace="default")


async def test_service_apis(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = "frontend-" + short_uuid()
    manifest = client.V1Service(
        api_version="v1", kind="Service",
        metadata=client.V1ObjectMeta(labels={"name": name}, name=name, resource_version="v1"),
        spec=client.V1ServiceSpec(
            ports=[client.V1ServicePort(name="port", port=80, protocol="TCP", target_port=80)],
            selector={"name": name}))
    resp = await core.create_namespaced_service(body=manifest, namespace="default")
    assert resp.metadata.name == name
    assert resp.status
    resp = await core.read_namespaced_service(name=name, namespace="default")
    assert resp.metadata.name == name
    assert resp.status
    port = {"port": 8080, "protocol": "TCP", "targetPort": 8080}
    resp = await core.patch_namespaced_service(  # strategic merge patch
        name=name, namespace="default", body={"spec": {"ports": [{"name": "new", **port}]}})
    assert len(resp.spec.ports) == 2
    assert resp.status
    resp = await core.patch_namespaced_service(  # JSON merge patch
        name=name, namespace="default", body={"spec": {"ports": [{"name": "new2", **port}]}},
        _content_type="application/merge-patch+json")
    assert len(resp.spec.ports) == 1
    assert resp.spec.ports[0].name == "new2"
    assert resp.status
    resp = await core.patch_namespaced_service(  # JSON patch
        name=name, namespace="default", body=[{"op": "add", "path": "/spec/ports/0", "value": {
            "name": "new3", "protocol": "TCP", "port": 1000, "targetPort": 1000}}])
    assert len(resp.spec.ports) == 2
    assert [p.name for p in resp.spec.ports] == ["new3", "new2"]
    assert resp.status
    await core.delete_namespaced_service(name=name, body={}, namespace="default")


async def test_replication_controller_apis(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = "frontend-" + short_uuid()
    manifest = client.V1ReplicationController(
        api_version="v1", kind="ReplicationController",
        metadata=client.V1ObjectMeta(labels={"name": name}, name=name),
        spec=client.V1ReplicationControllerSpec(
            replicas=2, selector={"name": name},
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"name": name}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    image="nginx", name="nginx",
                    ports=[client.V1ContainerPort(container_port=80, protocol="TCP")])]))))
    resp = await core.create_namespaced_replication_controller(body=manifest,
                                                               namespace="default")
    assert resp.metadata.name == name
    assert resp.spec.replicas == 2
    resp = await core.read_namespaced_replication_controller(name=name, namespace="default")
    assert resp.metadata.name == name
    assert resp.spec.replicas == 2
    await core.delete_namespaced_replication_controller(name=name, namespace="default")


async def _configmap_round_trip(core: client.CoreV1Api, body: Any, data: dict[str, str]) -> Any:
    name = body["metadata"]["name"] if isinstance(body, dict) else body.metadata.name
    resp = await core.create_namespaced_config_map(body=body, namespace="default")
    assert resp.metadata.name == name
    await core.patch_namespaced_config_map(  # strategic merge patch
        name=name, namespace="default", body={"data": {"key": "value", "frontend.cnf": "patched"}})
    resp = await core.read_namespaced_config_map(name=name, namespace="default")
    assert resp.data["config.json"] == data["config.json"]
    assert resp.data["frontend.cnf"] == "patched"
    assert resp.data["key"] == "value"
    status = await core.delete_namespaced_config_map(name=name, body={}, namespace="default")
    listed = await core.list_namespaced_config_map("default", pretty=True)
    assert all(item.metadata.name != name for item in listed.items)
    return status


CONFIG = {"config.json": '{"command":"/usr/bin/mysqld_safe"}',
          "frontend.cnf": "[mysqld]\nbind-address = 10.0.0.3\nport = 3306\n"}


async def test_configmap_apis(api: client.ApiClient) -> None:
    body = client.V1ConfigMap(kind="ConfigMap", api_version="v1", data=dict(CONFIG),
                              metadata=client.V1ObjectMeta(name="test-configmap-" + short_uuid()))
    await _configmap_round_trip(client.CoreV1Api(api), body, CONFIG)


async def test_body_as_dict(api: client.ApiClient) -> None:
    body = {"kind": "ConfigMap", "apiVersion": "v1", "data": dict(CONFIG),
            "metadata": {"name": "test-configmap-" + short_uuid()}}
    status = await _configmap_round_trip(client.CoreV1Api(api), cast("client.V1ConfigMap", body),
                                         CONFIG)
    assert status is not None


async def test_apply_patch(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = "cm-test" + str(uuid.uuid4())
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"namespace": "default", "name": name}, "data": {"hello": "world!"}}
    resp = await core.patch_namespaced_config_map(
        _content_type="application/apply-patch+yaml", field_manager="test", body=manifest,
        name=name, namespace="default")
    assert resp.metadata.name == name
    cm = await core.read_namespaced_config_map(name=name, namespace="default")
    assert cm.metadata.name == name
    cm.data["new"] = "value"  # a strategic merge patch of the object as read
    resp = await core.patch_namespaced_config_map(field_manager="test", body=cm, name=name,
                                                  namespace="default")
    assert resp.data == {"hello": "world!", "new": "value"}
    await core.delete_namespaced_config_map(name=name, namespace="default")


async def test_node_apis(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    resp = await core.list_node()
    assert resp.items
    for item in resp.items:
        node = await core.read_node(name=item.metadata.name)
        assert len(node.metadata.labels) > 0
        assert isinstance(node.metadata.labels, dict)


async def test_job_apis(api: client.ApiClient) -> None:
    batch = client.BatchV1Api(api)
    name = "test-job-" + str(uuid.uuid4())
    manifest = client.V1Job(
        kind="Job", api_version="batch/v1", metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
                image="busybox", name=name, command=["sh", "-c", "sleep 5"])]))))
    resp = await batch.create_namespaced_job(body=manifest, namespace="default")
    assert resp.metadata.name == name
    resp = await batch.read_namespaced_job(name=name, namespace="default")
    assert resp.metadata.name == name
    while not resp.status.succeeded:  # beyond the original: the Job runs and completes
        await asyncio.sleep(1)
        resp = await batch.read_namespaced_job(name=name, namespace="default")
    assert [c.type for c in resp.status.conditions][-1] == "Complete"
    await batch.delete_namespaced_job(name=name, body={}, namespace="default")


async def test_create_deployment(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    name = "nginx-deployment-" + str(uuid.uuid4())
    await apps.create_namespaced_deployment(body=yaml.safe_load(DEPLOYMENT % name),
                                            namespace="default")
    resp = await apps.read_namespaced_deployment(name, "default")
    assert resp is not None
    deleted = await apps.delete_namespaced_deployment(name, "default",
                                                      body=client.V1DeleteOptions())
    assert deleted is not None


async def test_create_deployment_from_yaml_file(api: client.ApiClient, tmp_path: Path) -> None:
    apps = client.AppsV1Api(api)
    name = "nginx-deployment-" + str(uuid.uuid4())
    (tmp_path / "temp.yaml").write_text(DEPLOYMENT % name)
    await utils.create_from_yaml(api, str(tmp_path / "temp.yaml"))
    resp = await apps.read_namespaced_deployment(name, "default")
    assert resp is not None
    while (resp.status.available_replicas or 0) < 3:  # beyond the original: it rolls out
        await asyncio.sleep(1)
        resp = await apps.read_namespaced_deployment(name, "default")
    await apps.delete_namespaced_deployment(name, "default", body=client.V1DeleteOptions())


async def test_create_daemonset(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    name = "nginx-app-" + str(uuid.uuid4())
    daemonset = client.V1DaemonSet(
        api_version="apps/v1", kind="DaemonSet",
        metadata=client.V1ObjectMeta(labels={"app": "nginx"}, name=name),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels={"app": "nginx"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "nginx"}, name=name),
                spec=client.V1PodSpec(containers=[client.V1Container(name="nginx-app",
                                                                     image="nginx:1.10")])),
            update_strategy=client.V1DaemonSetUpdateStrategy(type="RollingUpdate")))
    await apps.create_namespaced_daemon_set("default", body=daemonset)
    resp = await apps.read_namespaced_daemon_set(name, "default")
    assert resp is not None
    deleted = await apps.delete_namespaced_daemon_set(name, "default",
                                                      body=client.V1DeleteOptions())
    assert deleted is not None
