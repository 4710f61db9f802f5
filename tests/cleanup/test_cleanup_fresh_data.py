"""Decisions that read other objects wait for live caches and confirm on fresh data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cleanup.builders import HOUR, deployment_dict, node_dict, pod_dict, replicaset_dict
from tests.cleanup.harness import cluster, running, settings
from tests.cleanup.test_cleanup_transient_errors import namespace, only

pytestmark = pytest.mark.looptime

RS_WATCH = r"/replicasets\?(.*&)?watch=(1|true)"


async def test_item7_replicasets_are_not_judged_from_a_stale_sibling_cache(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        deployment = sim.create(deployment_dict("web", revision=6))
        sim.create(replicaset_dict(deployment, 6, replicas=2, current=2, created=now - 1800))
        for revision in range(1, 6):  # old revisions, all 30 minutes old: minAge is 1 h
            sim.create(replicaset_dict(deployment, revision, created=now - 1800))
        async with running(sim, tmp_path, settings(**only("replicaSets"))) as env:
            await asyncio.sleep(60)
            # The ReplicaSet watch breaks; meanwhile revisions 4 and 5 are deleted by hand.
            sim.faults.fail_next(10**6, 500, path=RS_WATCH)
            sim.faults.drop_watches()
            await asyncio.sleep(5)
            for revision in (4, 5):
                sim.delete("apps/v1", "ReplicaSet", f"web-{revision}", namespace="default")
            await asyncio.sleep(HOUR)  # revisions 1 and 2 pass minAge while the watch is down
            assert env.deletes("replicasets") == []
            sim.faults.clear()
            await asyncio.sleep(5 * 60)  # the watch is back: the cache says 1, 2, 3 old
        assert env.deletes("replicasets") == []
        names = {rs["metadata"]["name"] for rs in sim.list("apps/v1", "ReplicaSet")}
        assert names == {"web-1", "web-2", "web-3", "web-6"}


async def test_item7_a_surplus_replicaset_is_confirmed_against_live_siblings(
    tmp_path: Path,
) -> None:
    """Even with the watch healthy, the siblings a deletion relies on are read live."""
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        deployment = sim.create(deployment_dict("web", revision=6))
        sim.create(replicaset_dict(deployment, 6, replicas=2, current=2, created=now - 1800))
        for revision in range(1, 6):
            sim.create(replicaset_dict(deployment, revision, created=now - 2 * HOUR))
        async with running(sim, tmp_path, settings(**only("replicaSets"))) as env:
            await asyncio.sleep(60)
        assert sorted(r.path.rsplit("/", 1)[-1] for r in env.deletes("replicasets")) == [
            "web-1", "web-2"]
        lists = [r for r in sim.requests if r.method == "GET" and not r.watch
                 and r.path == "/apis/apps/v1/namespaces/default/replicasets"]
        assert len(lists) >= 2  # one live read per deletion


async def test_item10_a_generic_ephemeral_rwo_volume_keeps_a_pod_from_being_forced(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        sim.create(node_dict("node-down", ready=False, since=now - 24 * HOUR))
        pod = pod_dict("db-0", deleted=now - HOUR, node="node-down", owner="ReplicaSet")
        pod["spec"]["volumes"] = [{"name": "data", "ephemeral": {"volumeClaimTemplate": {
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}}}]
        sim.create(pod)
        sim.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "db-0-data", "namespace": "default"},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}})
        async with running(sim, tmp_path, settings(**only("stuckPods"))) as env:
            await asyncio.sleep(30 * 60)
        assert env.deletes("pods") == []
        assert sim.get("v1", "Pod", "db-0", "default") is not None


@pytest.mark.parametrize("volume", [
    {"name": "disk", "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}},
    {"name": "disk", "awsElasticBlockStore": {"volumeID": "vol-1"}},
    {"name": "disk", "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.x", "lun": 0}},
])
async def test_item10_a_volume_of_unknown_safety_keeps_a_pod_from_being_forced(
    tmp_path: Path, volume: dict,
) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        sim.create(node_dict("node-down", ready=False, since=now - 24 * HOUR))
        pod = pod_dict("app", deleted=now - HOUR, node="node-down", owner="ReplicaSet")
        pod["spec"]["volumes"] = [volume, {"name": "tmp", "emptyDir": {}},
                                  {"name": "cfg", "configMap": {"name": "cfg"}}]
        sim.create(pod)
        async with running(sim, tmp_path, settings(**only("stuckPods"))) as env:
            await asyncio.sleep(30 * 60)
        assert env.deletes("pods") == []


async def test_item10_node_local_volumes_alone_do_not_hold_a_pod_back(tmp_path: Path) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        sim.create(node_dict("node-down", ready=False, since=now - 24 * HOUR))
        pod = pod_dict("app", deleted=now - HOUR, node="node-down", owner="ReplicaSet")
        pod["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}},
                                  {"name": "cfg", "configMap": {"name": "cfg"}},
                                  {"name": "token", "projected": {"sources": []}},
                                  {"name": "info", "downwardAPI": {"items": []}},
                                  {"name": "s", "secret": {"secretName": "s"}}]
        sim.create(pod)
        async with running(sim, tmp_path, settings(**only("stuckPods"))) as env:
            await asyncio.sleep(30 * 60)
        assert [r.status for r in env.deletes("pods")] == [200]
