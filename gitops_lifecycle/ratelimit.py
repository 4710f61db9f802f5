"""A token bucket on the injected clock: `burst` at once, then `rate` per second of its time.

It counts on the clock's monotonic reading: a wall clock stepped back must not stop refills.

Not aiolimiter: it reads the event loop's time itself, so it cannot follow a `SimClock` (the
demo's speed-up), and under virtual loop time its wake-ups can stall the loop.
"""

from __future__ import annotations

import asyncio

from gitops_lifecycle.clock import Clock


class TokenBucket:
    """Grants in arrival order; each caller reserves its token and sleeps until it is due."""

    def __init__(self, *, clock: Clock, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            msg = f"a token bucket needs rate > 0 and burst >= 1 (got {rate}, {burst})"
            raise ValueError(msg)
        self._clock = clock
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated: float | None = None

    def _refill(self) -> None:
        now = self._clock.monotonic()
        if self._updated is not None and now > self._updated:
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now if self._updated is None else max(now, self._updated)

    async def acquire(self) -> None:
        """Wait for a token and take it."""
        self._refill()
        # Reserving (the balance may go negative) means one sleep per caller, no polling,
        # and first come first served however many callers wait at once.
        self._tokens -= 1
        if self._tokens >= 0:
            return
        try:
            await self._clock.sleep(-self._tokens / self._rate)
        except asyncio.CancelledError:
            self._refill()
            self._tokens = min(self._burst, self._tokens + 1)  # never used: give it back
            raise
