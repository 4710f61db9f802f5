"""Decisions that read other objects act only on live caches (invariant 9).

The uid precondition protects the object deleted, never the facts about the other objects
the decision read: a ReplicaSet is surplus only if its newer siblings really exist.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.cleanup.builders import deployment_dict, replicaset_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime

MIN_AGE = 3600.0


def replica_sets_only(**extra: Any) -> dict[str, Any]:
    names = ("completedJobs", "failedJobs", "stuckPods", "events")
    policies: dict[str, Any] = {name: {"enabled": False} for name in names}
    policies["replicaSets"] = {"enabled": True, "minKeep": 2, "minAge": MIN_AGE, **extra}
    return {"controller": {"policies": policies}}


async def test_an_expiry_timer_does_not_judge_a_replicaset_from_a_sibling_cache_whose_watch_is_down(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        now = sim.clock.now()
        web = sim.create(deployment_dict("web", revision=4))
        # web-1 reaches minAge in 100 s; two newer old revisions make it surplus (minKeep 2).
        sim.create(replicaset_dict(web, 1, created=now - MIN_AGE + 100))
        sim.create(replicaset_dict(web, 2))
        sim.create(replicaset_dict(web, 3))
        sim.create(replicaset_dict(web, 4, replicas=2, current=2))
        async with running(sim, tmp_path, settings(**replica_sets_only())):
            await asyncio.sleep(10)
            # The ReplicaSet watch breaks; meanwhile revision 3 goes away.
            sim.faults.inject(method="GET", path=r"/replicasets\?.*watch=(1|true)", status=500)
            sim.faults.drop_watches()
            await asyncio.sleep(1)
            sim.delete("apps/v1", "ReplicaSet", "web-3", namespace="default")
            await asyncio.sleep(200)  # web-1's timer fires while its siblings' cache is stale
            # Only revisions 1 and 2 are old now: both are within minKeep.
            assert "web-1" in {rs["metadata"]["name"] for rs in sim.list("apps/v1", "ReplicaSet")}
            sim.faults.clear()
            await asyncio.sleep(120)  # the watch is back: the fresh cache agrees
            assert {rs["metadata"]["name"] for rs in sim.list("apps/v1", "ReplicaSet")} == {
                "web-1", "web-2", "web-4"}
