"""The blast-radius window is a duration: a wall clock stepping forward (NTP, a VM resumed)
neither forgets the deletions counted in it nor lifts a stop early."""

from __future__ import annotations

import pytest

from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.settings import BlastRadius

pytestmark = pytest.mark.looptime


class SteppedClock(Clock):
    """The real clock (virtual loop time under looptime), its wall time stepped by `step`."""

    def __init__(self) -> None:
        self.step = 0.0

    def now(self) -> float:
        return super().now() + self.step


async def test_a_wall_clock_stepping_forward_neither_forgets_deletions_nor_lifts_a_stop() -> None:
    clock = SteppedClock()
    guard = BlastRadiusGuard(BlastRadius(max_share=0.5, max_count=5, window=3600), clock)
    admitted = sum(guard.admit("completedJobs", total=10) for _ in range(20))
    assert admitted == 5
    assert guard.blocked("completedJobs")
    clock.step = 2 * 3600  # the wall clock jumps two hours; no time has passed
    assert guard.blocked("completedJobs")
    assert not any(guard.admit("completedJobs", total=10) for _ in range(20))


async def test_a_wall_clock_stepping_forward_keeps_the_deletions_of_the_window_counted() -> None:
    clock = SteppedClock()
    guard = BlastRadiusGuard(BlastRadius(max_share=0.5, max_count=5, window=3600), clock)
    assert all(guard.admit("completedJobs", total=10) for _ in range(5))
    clock.step = 2 * 3600
    assert guard.recent("completedJobs") == 5
    assert not guard.judge("completedJobs", deleting=5, total=10)


async def test_two_policies_of_one_kind_count_its_objects_once_in_the_limit_over_all() -> None:
    guard = BlastRadiusGuard(BlastRadius(max_share=0.3, max_count=5), Clock())
    orphans = [guard.admit("orphanedProviders", total=20, kind="providers") for _ in range(4)]
    finalizer = [guard.admit("proxyConfigFinalizer", total=20, kind="providers") for _ in range(3)]
    assert orphans + finalizer == [True] * 6 + [False]  # the seventh is 7 of 20, over 30 %
