"""A property of the election: whatever stalls, errors and clock offsets two electors meet,
their terms of acting never overlap (virtual time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_lifecycle.kube.errors import (
    APIConnectionError,
    KubeError,
    ServerError,
    TooManyRequestsError,
)
from gitops_lifecycle.settings import LeaderElectionSettings
from tests.kube.leader_faults import Terms, Trouble, replicas

pytestmark = [pytest.mark.looptime, pytest.mark.timeout(600)]

ELECTION = LeaderElectionSettings(leaseDuration=6, renewDeadline=4, retryPeriod=1)
RUN = 90.0

ERRORS: list[KubeError | None] = [
    None,
    ServerError(500, "InternalError", "etcd leader changed"),
    ServerError(504, "Timeout", "the request timed out"),
    TooManyRequestsError(429, "TooManyRequests", "slow down", retry_after=1),
    APIConnectionError("connection reset by peer"),
]

troubles = st.lists(
    st.builds(
        lambda start, length, stall, error: Trouble(start, start + length, stall, error),
        start=st.floats(0, RUN), length=st.floats(0, 40), stall=st.floats(0, 20),
        error=st.sampled_from(ERRORS),
    ),
    max_size=6,
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.floats(-3600, 3600), one=troubles, two=troubles)
async def test_two_electors_never_act_at_once_whatever_the_network_and_clocks_do(
    tmp_path: Path, offset: float, one: list[Trouble], two: list[Trouble],
) -> None:
    terms = Terms()
    offsets = {"one": 0.0, "two": offset}
    async with replicas(tmp_path, offsets, election=ELECTION, terms=terms) as (_, found):
        begin = asyncio.get_running_loop().time()
        for name, planned in (("one", one), ("two", two)):
            found[name].kube.troubles = [
                Trouble(begin + t.start, begin + t.end, t.stall, t.error) for t in planned]
        await asyncio.sleep(RUN + 30)
        for replica in found.values():
            # A term never outlives its renew deadline, whatever the elector's task is doing.
            assert replica.elector.term.deadline() <= asyncio.get_running_loop().time() \
                + ELECTION.renew_deadline
    assert not terms.overlaps(), terms.spans
