"""The expiry scheduler fires each key at its exact time, in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.kube.scheduler import ExpiryScheduler

pytestmark = pytest.mark.looptime

START = 1_700_000_000.0


class Fired:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.log: list[tuple[str, float]] = []

    def __call__(self, key: str) -> None:
        self.log.append((key, self.clock.now()))

    def times(self, key: str) -> list[float]:
        return [at for fired, at in self.log if fired == key]


@asynccontextmanager
async def running(scheduler: ExpiryScheduler[str]) -> AsyncIterator[None]:
    task = asyncio.create_task(scheduler.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=START)


@pytest.fixture
def fired(clock: SimClock) -> Fired:
    return Fired(clock)


@pytest.fixture
def scheduler(clock: SimClock, fired: Fired) -> ExpiryScheduler[str]:
    return ExpiryScheduler(clock=clock, fire=fired)


async def test_each_key_fires_at_its_exact_time_in_time_order(
    clock: SimClock, fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    scheduler.schedule("ns/late", START + 3600)
    scheduler.schedule("ns/early", START + 60)
    scheduler.schedule("ns/middle", START + 90.5)
    async with running(scheduler):
        await asyncio.sleep(4000)
    assert [key for key, _ in fired.log] == ["ns/early", "ns/middle", "ns/late"]
    assert fired.times("ns/early") == [pytest.approx(START + 60, abs=1e-5)]
    assert fired.times("ns/middle") == [pytest.approx(START + 90.5, abs=1e-5)]
    assert fired.times("ns/late") == [pytest.approx(START + 3600, abs=1e-5)]
    assert len(scheduler) == 0
    assert clock.now() >= START + 4000


async def test_a_time_already_past_fires_at_once(
    fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    async with running(scheduler):
        await asyncio.sleep(1)
        scheduler.schedule("ns/overdue", START - 100)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert fired.times("ns/overdue") == [pytest.approx(START + 1, abs=1e-5)]


async def test_rescheduling_replaces_the_previous_timer(
    fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    scheduler.schedule("ns/later", START + 10)
    scheduler.schedule("ns/later", START + 50)
    scheduler.schedule("ns/sooner", START + 50)
    scheduler.schedule("ns/sooner", START + 20)
    async with running(scheduler):
        await asyncio.sleep(100)
    assert fired.times("ns/later") == [pytest.approx(START + 50, abs=1e-5)]
    assert fired.times("ns/sooner") == [pytest.approx(START + 20, abs=1e-5)]


async def test_a_cancelled_timer_never_fires(
    fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    scheduler.schedule("ns/gone", START + 10)
    scheduler.schedule("ns/kept", START + 10)
    async with running(scheduler):
        await asyncio.sleep(5)
        scheduler.cancel("ns/gone")
        scheduler.cancel("ns/never-scheduled")
        await asyncio.sleep(10)
    assert [key for key, _ in fired.log] == ["ns/kept"]
    assert "ns/gone" not in scheduler


async def test_the_stale_timer_of_a_changed_object_is_replaced_by_the_new_expiry(
    fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    # A Job finished at START expires after an hour; it is then re-created with the same name
    # and finishes 30 minutes later, so the key's expiry moves.
    scheduler.schedule("ns/job", START + 3600)
    async with running(scheduler):
        await asyncio.sleep(1800)
        scheduler.schedule("ns/job", START + 1800 + 3600)
        await asyncio.sleep(3600 + 60)
    assert fired.times("ns/job") == [pytest.approx(START + 5400, abs=1e-5)]


async def test_an_earlier_timer_added_while_sleeping_wakes_the_scheduler(
    fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    scheduler.schedule("ns/far", START + 86400)
    async with running(scheduler):
        await asyncio.sleep(10)
        scheduler.schedule("ns/near", START + 15)
        await asyncio.sleep(10)
        assert fired.times("ns/near") == [pytest.approx(START + 15, abs=1e-5)]
        assert fired.times("ns/far") == []


async def test_a_jump_of_the_simulated_clock_fires_what_fell_due(
    clock: SimClock, fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    scheduler.schedule("ns/day", START + 86400)
    async with running(scheduler):
        await asyncio.sleep(1)
        clock.advance(86400)
        await asyncio.sleep(0.001)
        assert [key for key, _ in fired.log] == ["ns/day"]


async def test_a_failing_callback_does_not_stop_later_timers(clock: SimClock) -> None:
    fired = Fired(clock)

    def fire(key: str) -> None:
        if key == "ns/bad":
            raise RuntimeError("boom")
        fired(key)

    scheduler: ExpiryScheduler[str] = ExpiryScheduler(clock=clock, fire=fire)
    scheduler.schedule("ns/bad", START + 1)
    scheduler.schedule("ns/good", START + 2)
    async with running(scheduler):
        await asyncio.sleep(5)
    assert [key for key, _ in fired.log] == ["ns/good"]


async def test_100k_timers_fire_in_order_from_one_task(
    clock: SimClock, fired: Fired, scheduler: ExpiryScheduler[str]
) -> None:
    count = 100_000
    seconds = 500  # 200 objects expire in each second, as after a burst of Jobs
    for index in range(count):
        scheduler.schedule(f"ns/job-{index}", START + 3600 + (index * 7919) % seconds)
    for index in range(0, count, 2):  # half of them change and move an hour later
        scheduler.schedule(f"ns/job-{index}", START + 7200 + index % seconds)
    tasks_before = len(asyncio.all_tasks())
    async with running(scheduler):
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) <= tasks_before + 3  # the loop, its sleeper, its waker
        await asyncio.sleep(7200 + seconds)
    assert len(fired.log) == count
    times = [at for _, at in fired.log]
    assert times == sorted(times)
    assert fired.times("ns/job-2") == [pytest.approx(START + 7202, abs=1e-5)]
    assert fired.times("ns/job-1") == [pytest.approx(START + 3600 + 7919 % seconds, abs=1e-5)]
