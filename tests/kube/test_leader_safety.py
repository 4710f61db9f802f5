"""One leader at a time, whatever the network and the clocks do (virtual time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_lifecycle.kube.errors import ServerError
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.settings import LeaderElectionSettings
from tests.kube.leader_faults import Terms, Trouble, replicas

pytestmark = pytest.mark.looptime

ELECTION = LeaderElectionSettings()  # 15 s lease, 10 s renew deadline, 2 s retry


async def leader_of(found: dict, within: float = 30) -> str:
    for _ in range(int(within * 10)):
        leading = [name for name, r in found.items() if r.elector.is_leader]
        if leading:
            return leading[0]
        await asyncio.sleep(0.1)
    pytest.fail("nobody leads")


@pytest.mark.parametrize(("stall", "error"), [
    (30.0, None),
    (6.0, ServerError(504, "Timeout", "the request timed out")),
])
async def test_item1_a_leader_whose_renewals_stall_stops_acting_before_its_lease_can_pass(
    tmp_path: Path, stall: float, error: ServerError | None,
) -> None:
    terms = Terms()
    offsets = {"one": 0.0, "two": 0.0}
    async with replicas(tmp_path, offsets, election=ELECTION, terms=terms) as (_, found):
        first = await leader_of(found)
        await asyncio.sleep(5)
        now = asyncio.get_running_loop().time()
        found[first].kube.troubles.append(Trouble(now, now + 60, stall=stall, error=error))
        await asyncio.sleep(90)
    assert not terms.overlaps(), terms.spans
    second = next(name for name in offsets if name != first)
    assert terms.spans[second], "the standby never took over"
    ended = terms.spans[first][0][1]
    assert ended - now <= ELECTION.renew_deadline  # at most one renew deadline of stalls


@pytest.mark.parametrize("ahead", [13.5, 16.0, 20.0, -20.0, 3600.0])
async def test_item2_a_standby_whose_clock_runs_ahead_never_takes_a_healthy_lease(
    tmp_path: Path, ahead: float,
) -> None:
    terms = Terms()
    async with replicas(tmp_path, {"one": 0.0}, election=ELECTION, terms=terms) as (sim, _):
        await asyncio.sleep(5)
        assert terms.spans["one"]
        async with replicas_joining(tmp_path, sim, "two", ahead, terms):
            await asyncio.sleep(120)
    assert not terms.overlaps(), terms.spans
    assert terms.spans.get("two", []) == []
    assert len(terms.spans["one"]) == 1


def replicas_joining(tmp_path: Path, sim, identity: str, offset: float, terms: Terms):
    """A second elector joining the first one's cluster later, with its own clock."""
    from contextlib import asynccontextmanager

    from gitops_lifecycle.clock import SimClock
    from gitops_lifecycle.kube.leader import LeaderElector
    from gitops_lifecycle.settings import KubernetesSettings
    from tests.kube.leader_faults import START, FaultyKube

    @asynccontextmanager
    async def joined():
        path = sim.write_kubeconfig(tmp_path / f"kubeconfig-{identity}")
        config = KubernetesSettings(kubeconfig=path, qps=1000, burst=1000)
        async with FaultyKube.from_settings(config) as kube:
            elector = LeaderElector(kube=kube, settings=ELECTION,
                                    clock=SimClock(start=START + offset), identity=identity,
                                    **terms.callbacks(identity))
            task = asyncio.create_task(elector.run())
            try:
                yield elector
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    return joined()


async def test_item4_a_burst_of_other_requests_does_not_delay_lease_renewals(
    tmp_path: Path,
) -> None:
    terms = Terms()
    async with replicas(tmp_path, {"one": 0.0}, election=ELECTION, terms=terms,
                        qps=5, burst=10) as (sim, found):
        await leader_of(found)
        kube = found["one"].kube
        burst = [asyncio.create_task(kube.list_page(JOBS, record=dict, limit=1))
                 for _ in range(1000)]  # 200 s of the client's QPS budget
        await asyncio.sleep(60)
        assert terms.spans["one"] == [[terms.spans["one"][0][0], float("inf")]], \
            "the leader stepped down"
        assert sum(task.done() for task in burst) < 400  # the burst was still queued
        renewals = [r.time for r in sim.requests if r.method == "PUT" and "/leases/" in r.path
                    and r.status == 200]
        assert renewals
        assert renewals[-1] >= sim.clock.now() - 2 * ELECTION.retry_period
        for task in burst:
            task.cancel()
        await asyncio.gather(*burst, return_exceptions=True)
