"""The simulated clock: follows loop time, jumps ahead on demand, never goes back."""

from __future__ import annotations

import asyncio

import pytest

from gitops_lifecycle.clock import SimClock, format_time, parse_time

START = 1_700_000_000.0


@pytest.mark.looptime
async def test_sim_clock_follows_virtual_loop_time_at_its_speed() -> None:
    clock = SimClock(START, speed=60)
    first = clock.now()
    await asyncio.sleep(10)
    assert clock.now() - first == pytest.approx(600)


@pytest.mark.looptime
async def test_sleep_until_wakes_early_when_the_clock_is_advanced() -> None:
    clock = SimClock(START)
    loop = asyncio.get_running_loop()
    sleeper = asyncio.create_task(clock.sleep_until(START + 3600))
    await asyncio.sleep(1)
    clock.advance(3600)
    started = loop.time()
    await sleeper
    assert loop.time() - started < 1
    assert clock.now() >= START + 3600


def test_sim_clock_carries_on_when_the_loop_clock_goes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As when a fixture reads the clock in real loop time and the test then runs under looptime.
    clock = SimClock(START)
    loop_times = iter([1000.0, 1010.0, 0.0, 5.0])
    monkeypatch.setattr(clock, "_loop_time", lambda: next(loop_times))
    readings = [clock.now() for _ in range(4)]
    assert readings == [START, START + 10, START + 10, START + 15]


def test_kubernetes_timestamps_round_trip() -> None:
    assert parse_time(format_time(START)) == START
    assert parse_time("2023-11-14T22:13:20Z") == START
    assert parse_time(None) is None
    assert format_time(START + 0.25, micro=True) == "2023-11-14T22:13:20.250000Z"


@pytest.mark.looptime
async def test_a_paused_clock_stands_still_and_carries_on_from_there_when_resumed() -> None:
    clock = SimClock(START)
    clock.now()
    clock.pause()
    await asyncio.sleep(100)
    stood = clock.now()
    clock.advance(30)
    advanced = clock.now()
    clock.resume()
    await asyncio.sleep(5)
    assert (stood, advanced, clock.now()) == (START, START + 30, START + 35)


@pytest.mark.looptime
async def test_sleepers_on_a_paused_clock_wake_only_when_it_moves() -> None:
    clock = SimClock(START)
    clock.now()
    clock.pause()
    sleeper = asyncio.create_task(clock.sleep_until(START + 10))
    await asyncio.sleep(3600)
    asleep = not sleeper.done()
    clock.advance(10)
    await asyncio.sleep(0.001)
    assert asleep
    assert sleeper.done()


@pytest.mark.looptime
async def test_a_step_moves_the_wall_clock_only() -> None:
    clock = SimClock(START)
    loop = asyncio.get_running_loop()
    sleeper = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(1)
    mono = clock.monotonic()
    clock.step(3600)
    clock.step(-7200)
    assert clock.now() == pytest.approx(START + 1 - 3600)
    assert clock.monotonic() == pytest.approx(mono)
    started = loop.time()
    await sleeper  # a sleep of monotonic time is neither cut short nor stretched
    assert loop.time() - started == pytest.approx(59)
