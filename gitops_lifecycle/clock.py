"""Wall-clock time the daemon judges ages by, injectable so tests and the demo can run it fast.

Two readings: `now()` is wall time, for comparisons with the API's timestamps (an object's
age, a TTL); `monotonic()` never goes back, for durations (rate limits, backoffs, intervals,
lease timing), so a wall clock stepped back an hour by NTP stalls none of them.

`Clock` reads the real time. `SimClock` derives the time from the event loop's clock, so under
`looptime` (virtual loop time) objects age as fast as the test advances, and at `speed` > 1
(the demo) simulated hours pass in real minutes. Its `advance()` jumps ahead and wakes sleepers;
`pause()` stops it until `resume()` (advancing still moves it); `step()` moves the wall clock
alone, either way, as NTP or a resumed VM may, while `monotonic()` goes on undisturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime


class Clock:
    """The real clock: epoch seconds and real sleeps."""

    speed = 1.0

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds that never go back (the event loop's clock): measure durations with this."""
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def datetime(self) -> datetime:
        """The current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until `now() >= deadline` (returns at once if it already is)."""
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of monotonic time, whatever the wall clock does meanwhile."""
        if seconds > 0:
            await asyncio.sleep(seconds)


_MIN_SLEEP = 1e-6
"""A remainder smaller than loop time can represent (1e-17 s) would never elapse: sleep 1 us."""


class SimClock(Clock):
    """Clock time = `start` + loop time elapsed * `speed` + explicit advances."""

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        self._start = time.time() if start is None else start
        self.speed = speed
        self._origin: float | None = None
        self._last_loop = 0.0
        self._offset = 0.0
        self._paused_at: float | None = None
        self._stepped = 0.0
        """How far the wall clock was stepped (`step`): in `now()`, not in `monotonic()`."""
        self._moved = asyncio.Event()

    def _loop_time(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def now(self) -> float:
        """Seconds since the epoch, simulated (with the wall clock's steps)."""
        return self._elapsed() + self._stepped

    def _elapsed(self) -> float:
        """Simulated time: loop time at `speed`, plus advances; never goes back."""
        loop_now = self._loop_time()
        if self._origin is None:
            self._origin = loop_now
        elif loop_now < self._last_loop:
            # The loop's clock went back (looptime switched on after a fixture first read the
            # time, or a new loop): carry on from the last reading instead of going back.
            self._start += (self._last_loop - self._origin) * self.speed
            self._origin = loop_now
        self._last_loop = loop_now
        if self._paused_at is not None:
            return self._paused_at
        return self._start + (loop_now - self._origin) * self.speed + self._offset

    def monotonic(self) -> float:
        """Simulated time without the wall clock's steps: it never goes back."""
        return self._elapsed()

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of simulated time (waking early if the clock is advanced past
        it; a step of the wall clock changes nothing)."""
        await self._sleep_until(self.monotonic() + seconds, self.monotonic)

    def step(self, seconds: float) -> None:
        """Step the wall clock (`now()`) by `seconds`, forward or back; `monotonic()` and
        sleeps measured on it are unaffected, sleeps until a wall time re-judge."""
        self._stepped += seconds
        self._wake()

    @property
    def paused(self) -> bool:
        """Whether the clock stands still (until `resume()`)."""
        return self._paused_at is not None

    def pause(self) -> None:
        """Stop the clock: `now()` stays where it is until `resume()` or `advance()`."""
        if self._paused_at is None:
            self._paused_at = self._elapsed()

    def resume(self) -> None:
        """Let the clock run again from where it stood."""
        if self._paused_at is not None:
            stood, self._paused_at = self._paused_at, None
            self._offset += stood - self._elapsed()
            self._wake()

    def advance(self, seconds: float) -> None:
        """Jump ahead by `seconds` and wake everything sleeping on this clock."""
        self._offset += seconds
        if self._paused_at is not None:
            self._paused_at += seconds
        self._wake()

    def _wake(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until simulated `now() >= deadline`, waking early if the clock jumps."""
        await self._sleep_until(deadline, self.now)

    async def _sleep_until(self, deadline: float, reading: Callable[[], float]) -> None:
        while (delay := deadline - reading()) > 0:
            if self._paused_at is not None:
                await self._moved.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), max(delay / self.speed, _MIN_SLEEP))


def parse_time(text: str | None) -> float | None:
    """Epoch seconds of a Kubernetes timestamp (RFC 3339), or None."""
    if not text:
        return None
    return datetime.fromisoformat(text).timestamp()


def format_time(epoch: float, *, micro: bool = False) -> str:
    """A Kubernetes timestamp: `2024-01-02T03:04:05Z` (MicroTime with `micro`)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
