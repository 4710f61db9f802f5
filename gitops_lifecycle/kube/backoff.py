"""Delays between an informer's list-and-watch rounds, as client-go's reflector spaces them."""

from __future__ import annotations

import random

from gitops_lifecycle.clock import Clock


class Backoff:
    """Capped exponential delays with jitter (0.8 s … 30 s), reset after a quiet spell.

    The delays start over once `quiet` seconds (monotonic) have passed without one, so a
    server answering every watch with 410 gets a LIST every 30 s instead of a storm of them.
    """

    def __init__(self, *, clock: Clock, initial: float = 0.8, cap: float = 30.0,
                 quiet: float = 120.0) -> None:
        self._clock = clock
        self._initial = initial
        self._cap = cap
        self._quiet = quiet
        self._failures = 0
        self._last: float | None = None

    def next(self, at_least: float | None = None) -> float:
        """The delay before the next attempt, never less than a server's Retry-After."""
        now = self._clock.monotonic()
        if self._last is not None and now - self._last > self._quiet:
            self._failures = 0
        delay = min(self._cap, self._initial * 2.0 ** min(self._failures, 32))
        self._failures += 1
        jitter = random.uniform(1.0, 1.2)  # noqa: S311 - spreads reconnects, not security
        delay = max(min(self._cap, delay * jitter), at_least or 0.0)
        self._last = now + delay
        return delay
