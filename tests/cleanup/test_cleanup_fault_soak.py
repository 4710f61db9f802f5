"""A fault soak: 10,000 Jobs, with ReplicaSets and Events beside them, while the simulated
cluster drops watches, answers 429 and 500, compacts its history, and the controllers
restart. Zero wrongful deletions, every eligible object eventually deleted, none twice."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from gitops_lifecycle.clock import parse_time
from gitops_lifecycle.simulation import SimulatedCluster
from tests.cleanup.builders import HOUR, deployment_dict, event_dict, job_dict, replicaset_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = [pytest.mark.looptime, pytest.mark.timeout(300)]

TOTAL = int(os.environ.get("SOAK_JOBS", "10000"))
MINUTE = 60.0
LONG_TTL = {"gitops.io/cleanup-ttl": "1d"}


def seed(sim: SimulatedCluster, rng: random.Random) -> dict[str, float]:
    """Half the Jobs expire within the next hour; returns their names and expiry times."""
    now = sim.clock.now()
    expiring: dict[str, float] = {}
    for index in range(TOTAL):
        name = f"job-{index:05d}"
        kind = index % 4
        if kind in {0, 1}:  # expires during the soak
            job = sim.create(job_dict(name, finished=now - HOUR + rng.uniform(0, HOUR)))
            finished = parse_time(job["status"]["conditions"][-1]["lastTransitionTime"])
            expiring[name] = finished + HOUR
        elif kind == 2:  # running throughout
            sim.create(job_dict(name))
        else:  # finished, with a TTL of its own that outlasts the soak
            sim.create(job_dict(name, finished=now, annotations=LONG_TTL))
    return expiring


async def inject_faults(sim: SimulatedCluster, rng: random.Random) -> None:
    """Every few simulated minutes, one kind of trouble."""
    while True:
        await asyncio.sleep(rng.uniform(60, 240))
        trouble = rng.choice(["drop", "500", "429", "compact", "drop+compact"])
        if "drop" in trouble:
            sim.faults.drop_watches()
        if "compact" in trouble:
            sim.faults.compact()
        if trouble == "500":
            sim.faults.fail_next(rng.randint(5, 40), 500)
        if trouble == "429":
            sim.faults.fail_next(rng.randint(5, 40), 429, retry_after=1)


DEPLOYMENTS = int(os.environ.get("SOAK_DEPLOYMENTS", "60"))
REVISIONS = 8
EVENTS = int(os.environ.get("SOAK_EVENTS", "1500"))


def seed_others(sim: SimulatedCluster) -> tuple[set[str], set[str]]:
    """ReplicaSets and Events: (names that must go, names that must stay)."""
    now = sim.clock.now()
    go: set[str] = set()
    stay: set[str] = set()
    for index in range(DEPLOYMENTS):
        deployment = sim.create(deployment_dict(f"web-{index:03d}", revision=REVISIONS))
        for revision in range(1, REVISIONS + 1):
            current = revision == REVISIONS
            rs = sim.create(replicaset_dict(deployment, revision, replicas=2 if current else 0,
                                            current=2 if current else 0,
                                            created=now - 2 * HOUR))
            # minKeep 3: revisions 5, 6 and 7 stay beside the current 8; 1 to 4 are surplus.
            (go if revision <= REVISIONS - 4 else stay).add(rs["metadata"]["name"])
    for index in range(EVENTS):
        old = index % 2 == 0
        name = f"event-{index:05d}"
        sim.create(event_dict(name, last=now - (2 * 24 * HOUR if old else 600)))
        (go if old else stay).add(name)
    return go, stay


def change_minds(sim: SimulatedCluster, expiring: dict[str, float], now: float) -> set[str]:
    """Opt some not-yet-expired Jobs out and re-create others: they must all survive."""
    later = sorted(name for name, at in expiring.items() if at > now + 20 * MINUTE)
    saved = set(later[:200]) | set(later[-100:])
    for name in later[:200]:
        sim.patch("batch/v1", "Job", name, {"metadata": {"annotations": {
            "gitops.io/cleanup": "false"}}}, namespace="default")
    for name in later[-100:]:
        sim.delete("batch/v1", "Job", name, namespace="default")
        sim.create(job_dict(name, finished=now, annotations=LONG_TTL))
    for name in saved:
        del expiring[name]
    return saved


async def test_no_wrongful_double_or_missed_deletion_under_faults(tmp_path: Path) -> None:
    rng = random.Random(4)
    config = settings()  # the default deletion and client rate limits, faults and all
    async with cluster(history=2_000) as sim:
        sim.ensure_namespaces("default")
        expiring = seed(sim, rng)
        others_go, others_stay = seed_others(sim)
        keep = {f"job-{i:05d}" for i in range(TOTAL)} - set(expiring)
        faults = asyncio.create_task(inject_faults(sim, rng))
        async with running(sim, tmp_path, config):
            await asyncio.sleep(10 * MINUTE)
            keep |= change_minds(sim, expiring, sim.clock.now())
            recreated = {n: sim.get("batch/v1", "Job", n, "default")["metadata"]["uid"]
                         for n in keep}
            await asyncio.sleep(20 * MINUTE)
        await asyncio.sleep(3 * MINUTE)  # the daemon is down; Jobs keep expiring
        async with running(sim, tmp_path, config):
            await asyncio.sleep(40 * MINUTE)
        faults.cancel()
        sim.faults.clear()

        remaining = {o["metadata"]["name"]: o["metadata"]["uid"]
                     for o in sim.list("batch/v1", "Job")}
        deleted = Counter(r.path.rsplit("/", 1)[-1] for r in sim.requests
                          if r.method == "DELETE" and r.status == 200 and "/jobs/" in r.path)
        others_deleted = Counter(r.path.rsplit("/", 1)[-1] for r in sim.requests
                                 if r.method == "DELETE" and r.status == 200
                                 and "/jobs/" not in r.path)
        others_left = {o["metadata"]["name"] for kind in (("apps/v1", "ReplicaSet"),
                                                          ("v1", "Event"))
                       for o in sim.list(*kind)}
        early = [r for r in sim.requests if r.method == "DELETE" and r.status == 200
                 and "/jobs/" in r.path
                 and r.time < expiring.get(r.path.rsplit("/", 1)[-1], float("inf"))]

    assert set(remaining) == keep, "an eligible Job was missed or a kept one deleted"
    assert all(remaining[name] == uid for name, uid in recreated.items())
    assert set(deleted) == set(expiring), "a DELETE hit a Job its policy did not select"
    assert max(deleted.values()) == 1, "a Job was deleted twice"
    assert not early, "a Job was deleted before its TTL ran out"
    assert not set(others_deleted) & others_stay, "a kept ReplicaSet or Event was deleted"
    assert set(others_deleted) == others_go, "an eligible ReplicaSet or Event was missed"
    assert max(others_deleted.values()) == 1, "a ReplicaSet or Event was deleted twice"
    assert others_stay <= others_left
