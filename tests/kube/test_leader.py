"""Leader election on a Lease of the simulated cluster, in virtual time."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.clock import SimClock, format_time, parse_time
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import NotFoundError
from gitops_lifecycle.kube.leader import LeaderElector, NotLeadingError, Term
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.settings import KubernetesSettings, LeaderElectionSettings
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

START = 1_700_000_000.0
NAMESPACE = "gitops-system"
NAME = "gitops-lifecycle-management"
ELECTION = LeaderElectionSettings()  # 15 s lease, 10 s renew deadline, 2 s retry
MARGIN = ELECTION.lease_duration - ELECTION.renew_deadline
"""How long a standby that saw the last renewal waits past the end of the leader's term."""


@asynccontextmanager
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[SimulatedCluster, Kube]]:
    # Started inside the test (not in a fixture) so that the clock runs on virtual loop time.
    async with SimulatedCluster(clock=SimClock(start=START)) as sim:
        sim.ensure_namespaces(NAMESPACE)
        path = sim.write_kubeconfig(tmp_path / "kubeconfig")
        config = KubernetesSettings(kubeconfig=path, qps=1000, burst=1000)
        async with Kube.from_settings(config) as kube:
            yield sim, kube


def lease(sim: SimulatedCluster) -> dict[str, Any]:
    found = sim.get("coordination.k8s.io/v1", "Lease", NAME, NAMESPACE)
    assert found is not None
    return found["spec"]


@asynccontextmanager
async def electing(elector: LeaderElector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(elector.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def elector(kube: Kube, sim: SimulatedCluster, identity: str, **kwargs: Any) -> LeaderElector:
    assert isinstance(sim.clock, SimClock)
    return LeaderElector(kube=kube, settings=ELECTION, clock=sim.clock, identity=identity,
                         **kwargs)


@asynccontextmanager
async def leader_and_standby(
    kube: Kube, sim: SimulatedCluster, **kwargs: Any,
) -> AsyncIterator[tuple[LeaderElector, LeaderElector, asyncio.Task[None]]]:
    """Replica "one" leading, "two" standing by for 5 s; cancelling the task stops "one"."""
    one = elector(kube, sim, "one", **kwargs)
    two = elector(kube, sim, "two")
    async with electing(one) as first:
        await one.is_leader.wait_true()
        async with electing(two):
            await asyncio.sleep(5)
            yield one, two, first


def seed_lease(sim: SimulatedCluster, *, holder: str, renewed: float, transitions: int = 3) -> None:
    sim.create({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                 "renewTime": format_time(renewed, micro=True),
                 "acquireTime": format_time(renewed - 100, micro=True),
                 "leaseTransitions": transitions},
    })


async def test_a_lone_replica_creates_the_lease_and_leads(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (sim, kube):
        started: list[str] = []
        one = elector(kube, sim, "one", on_started_leading=lambda: started.append("one"))
        async with electing(one):
            await asyncio.wait_for(one.is_leader.wait_true(), 1)
            assert REGISTRY.get_sample_value("gitops_leader") == 1
            await asyncio.sleep(30)
            spec = lease(sim)
        assert spec["holderIdentity"] == "one"
        assert spec["leaseDurationSeconds"] == 15
        assert spec["leaseTransitions"] == 0
        assert parse_time(spec["renewTime"]) >= START + 28  # renewed every 2 s
        assert started == ["one"]


async def test_of_two_replicas_exactly_one_leads_and_keeps_leading(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (sim, kube):
        one, two = elector(kube, sim, "one"), elector(kube, sim, "two")
        async with electing(one), electing(two):
            leaders = []
            for _ in range(60):
                await asyncio.sleep(1)
                leaders.append(tuple(e.identity for e in (one, two) if e.is_leader))
            assert lease(sim)["holderIdentity"] == leaders[0][0]
            assert lease(sim)["leaseTransitions"] == 0
        assert all(len(now) == 1 for now in leaders)
        assert len(set(leaders)) == 1


async def test_a_lease_held_by_a_dead_replica_is_taken_a_lease_duration_after_first_seen(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube):
        seed_lease(sim, holder="dead", renewed=START - 5)
        standby = elector(kube, sim, "standby")
        async with electing(standby):
            # The renewTime was written by another host's clock: the standby times the lease
            # from when it first saw this version, on its own clock.
            await asyncio.sleep(14.9)
            assert not standby.is_leader
            await asyncio.sleep(0.2)
            assert standby.is_leader  # at first sight + 15 s, not at the next 2 s retry after
        spec = lease(sim)
        assert spec["leaseTransitions"] == 4


async def test_a_valid_lease_held_by_another_replica_is_not_taken(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (sim, kube):
        seed_lease(sim, holder="alive", renewed=START)
        standby = elector(kube, sim, "standby")
        async with electing(standby):
            for _ in range(7):
                await asyncio.sleep(2)
                sim.patch("coordination.k8s.io/v1", "Lease", NAME, namespace=NAMESPACE, patch=
                          {"spec": {"renewTime": format_time(sim.clock.now(), micro=True)}})
            assert not standby.is_leader
        assert lease(sim)["holderIdentity"] == "alive"


async def test_the_leader_releases_the_lease_on_shutdown_and_the_standby_takes_over_fast(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube):
        stopped: list[str] = []
        async with leader_and_standby(
            kube, sim, on_stopped_leading=lambda: stopped.append("one"),
        ) as (one, two, first):
            assert not two.is_leader
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            released = sim.clock.now()
            assert lease(sim)["holderIdentity"] in ("", "two")
            await two.is_leader.wait_true()
            assert sim.clock.now() - released <= ELECTION.retry_period
        assert stopped == ["one"]
        assert not one.is_leader


async def test_a_leader_that_cannot_renew_steps_down_before_its_lease_expires(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube):
        one = elector(kube, sim, "one")
        async with electing(one):
            await one.is_leader.wait_true()
            await asyncio.sleep(1)
            last_renewed = parse_time(lease(sim)["renewTime"])
            sim.faults.fail_next(1000, 503, path="/leases/")
            await one.is_leader.wait_false()
            stepped_down = sim.clock.now()
            sim.faults.clear()
            assert last_renewed + ELECTION.renew_deadline <= stepped_down
            assert stepped_down < last_renewed + ELECTION.lease_duration
            await one.is_leader.wait_true()  # and it competes again once the API answers


async def test_a_leader_whose_lease_was_taken_steps_down_at_its_next_renewal(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube):
        one = elector(kube, sim, "one")
        async with electing(one):
            await one.is_leader.wait_true()
            sim.patch("coordination.k8s.io/v1", "Lease", NAME, namespace=NAMESPACE, patch=
                      {"spec": {"holderIdentity": "usurper",
                                "renewTime": format_time(sim.clock.now(), micro=True)}})
            taken = sim.clock.now()
            await one.is_leader.wait_false()
            assert sim.clock.now() - taken <= ELECTION.retry_period + 0.1
            assert REGISTRY.get_sample_value("gitops_leader") == 0


async def test_a_lease_that_cannot_be_reached_is_reported_once_then_at_a_backoff(
    tmp_path: Path,
) -> None:
    from structlog.testing import capture_logs

    async with cluster(tmp_path) as (sim, kube):
        sim.faults.inject(status=503)  # the API server answers nothing useful, for minutes
        with capture_logs() as logged:
            async with electing(elector(kube, sim, "a")):
                await asyncio.sleep(120)
        sim.faults.clear()
    said = [e for e in logged if e["event"] == "could not read or take the lease"]
    # Retries every 2 s for 2 minutes would say it about 60 times; once, then at 10 s, 20 s,
    # 40 s, 80 s intervals says it five times, each with how often it went unsaid.
    assert 3 <= len(said) <= 6
    assert said[0]["repeated"] == 0
    assert sum(e["repeated"] for e in said) + len(said) > 20


async def test_a_leader_shutting_down_holds_the_lease_while_a_write_is_in_flight(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube), \
            leader_and_standby(kube, sim) as (one, two, first):
        gate = asyncio.Event()
        write = asyncio.create_task(one.term.write(gate.wait))
        await asyncio.sleep(1)
        first.cancel()  # shutting down: the write goes on until it is answered
        await asyncio.sleep(3)
        assert lease(sim)["holderIdentity"] == "one"
        gate.set()
        await write
        answered = sim.clock.now()
        await two.is_leader.wait_true()
        assert sim.clock.now() - answered <= ELECTION.retry_period
        # Answered: the handover waits for nothing more.
        assert sim.clock.now() - answered < MARGIN


async def test_a_leader_shutting_down_after_giving_up_a_write_releases_a_margin_later(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube), \
            leader_and_standby(kube, sim) as (one, two, first):
        write = asyncio.create_task(one.term.write(asyncio.Event().wait))
        await asyncio.sleep(1)
        write.cancel()  # given up unanswered: it may still land
        await asyncio.gather(write, return_exceptions=True)
        given_up = sim.clock.now()
        first.cancel()
        await two.is_leader.wait_true()
        waited = sim.clock.now() - given_up
        assert MARGIN <= waited <= MARGIN + ELECTION.retry_period


async def test_a_write_refused_by_the_server_does_not_hold_the_handover(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as (sim, kube), \
            leader_and_standby(kube, sim) as (one, two, first):
        with pytest.raises(NotFoundError):
            await one.term.write(lambda: kube.delete(JOBS, "gone", namespace=NAMESPACE))
        first.cancel()
        stopped = sim.clock.now()
        await two.is_leader.wait_true()
        assert sim.clock.now() - stopped <= ELECTION.retry_period


async def test_no_write_starts_or_stays_in_flight_past_the_term() -> None:
    term = Term()
    with pytest.raises(NotLeadingError):
        await term.write(lambda: asyncio.sleep(0))
    assert term.unanswered_at == -math.inf  # never sent
    loop = asyncio.get_running_loop()
    term.until = loop.time() + 2
    with pytest.raises(NotLeadingError):
        await term.write(lambda: asyncio.sleep(10))
    assert term.unanswered_at == loop.time() == term.until
    assert term.writing == 0
