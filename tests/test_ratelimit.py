"""The token bucket, in virtual time on the simulated clock: a burst at once, then the rate."""

from __future__ import annotations

import asyncio
import random

import pytest

from gitops_lifecycle.clock import Clock, SimClock
from gitops_lifecycle.ratelimit import TokenBucket

pytestmark = pytest.mark.looptime

START = 1_700_000_000.0
EPSILON = 1e-5
"""Float noise at epoch magnitudes, and the simulated clock's 1 us minimum sleep."""


async def grant_times(bucket: TokenBucket, clock: SimClock, callers: int) -> list[float]:
    granted: list[float] = []

    async def caller() -> None:
        await bucket.acquire()
        granted.append(clock.now() - START)

    await asyncio.gather(*(caller() for _ in range(callers)))
    return granted


def most_in_any_window(times: list[float], width: float) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t <= start + width + EPSILON)
               for i, start in enumerate(ordered))


async def test_a_burst_passes_at_once_then_exactly_rate_per_second() -> None:
    clock = SimClock(START)
    bucket = TokenBucket(clock=clock, rate=10, burst=20)
    granted = await grant_times(bucket, clock, 50)
    assert granted[:20] == pytest.approx([0.0] * 20, abs=EPSILON)
    assert granted[20:] == pytest.approx([(i + 1) / 10 for i in range(30)], abs=EPSILON)


async def test_the_bucket_refills_while_idle_but_never_beyond_the_burst() -> None:
    clock = SimClock(START)
    bucket = TokenBucket(clock=clock, rate=2, burst=4)
    await grant_times(bucket, clock, 4)
    await asyncio.sleep(60)  # idle far longer than a refill takes
    started = clock.now() - START
    granted = await grant_times(bucket, clock, 6)
    assert [t - started for t in granted] == pytest.approx([0, 0, 0, 0, 0.5, 1.0], abs=EPSILON)


async def test_no_window_ever_sees_more_than_burst_plus_rate_times_its_length() -> None:
    clock = SimClock(START)
    rate, burst = 5.0, 8
    bucket = TokenBucket(clock=clock, rate=rate, burst=burst)
    rng = random.Random(7)
    granted: list[float] = []

    async def caller(arrival: float) -> None:
        await asyncio.sleep(arrival)
        await bucket.acquire()
        granted.append(clock.now() - START)

    await asyncio.gather(*(caller(rng.uniform(0, 30)) for _ in range(300)))
    assert len(granted) == 300
    for width in (0.0, 0.1, 0.5, 1.0, 3.0, 10.0, 60.0):
        assert most_in_any_window(granted, width) <= burst + rate * width
    # And it is not idle while callers wait: 300 grants take about (300 - burst) / rate.
    assert max(granted) == pytest.approx((300 - burst) / rate, abs=0.5)


async def test_it_follows_a_fast_clock_in_that_clocks_seconds() -> None:
    clock = SimClock(START, speed=600)
    bucket = TokenBucket(clock=clock, rate=10, burst=20)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await grant_times(bucket, clock, 620)  # 60 simulated seconds past the burst
    assert loop.time() - started == pytest.approx(60 / 600, abs=0.01)


async def test_a_cancelled_waiter_gives_its_token_back() -> None:
    clock = SimClock(START)
    bucket = TokenBucket(clock=clock, rate=1, burst=1)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.5)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    started = clock.now()
    await bucket.acquire()
    assert clock.now() - started == pytest.approx(0.5, abs=EPSILON)


def test_a_bucket_that_could_never_grant_is_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(clock=SimClock(START), rate=0, burst=1)


class SteppedBackClock(Clock):
    """The real clock, its wall time stepped back an hour (NTP, a VM restored from a snapshot)."""

    def __init__(self) -> None:
        self.step = 0.0

    def now(self) -> float:
        return super().now() - self.step


async def test_a_wall_clock_stepping_back_does_not_stall_the_bucket() -> None:
    clock = SteppedBackClock()
    bucket = TokenBucket(clock=clock, rate=20, burst=40)
    loop = asyncio.get_running_loop()
    for _ in range(10):
        await bucket.acquire()
    clock.step = 3600
    started = loop.time()
    for _ in range(200):  # one request after another, as a client's callers make them
        await bucket.acquire()
    # 30 tokens left in the burst, then 170 at 20 per second.
    assert loop.time() - started == pytest.approx(170 / 20, abs=0.1)
