"""A circuit breaker for the daemon's outbound calls (Kubernetes, Authentik), on `circuitbreaker`.

After `failureThreshold` consecutive failures the circuit opens: calls fail at once with
CircuitOpenError for `recoveryTimeout`, then one trial call is let through (half-open); its
success closes the circuit. The clock is injectable so tests can run it in virtual time.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, TypeVar

import circuitbreaker

from gitops_lifecycle import metrics

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gitops_lifecycle.settings import CircuitBreakerSettings

T = TypeVar("T")


class CircuitOpenError(Exception):
    """The circuit is open: the call was not made."""


def loop_clock() -> float:
    """The event loop's time (virtual under looptime), or the monotonic clock outside a loop."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


class _ClockedBreaker(circuitbreaker.CircuitBreaker):  # type: ignore[misc]
    """The library's breaker, reading the time from an injected clock instead of monotonic()."""

    def __init__(self, *, clock: Callable[[], float], **kwargs: Any) -> None:
        self._clock = clock
        self._opened_at = clock()
        super().__init__(**kwargs)

    @property
    def _opened(self) -> float:
        return self._opened_at

    @_opened.setter
    def _opened(self, _library_time: float) -> None:
        # The library stamps monotonic() here when the circuit opens; use our clock instead.
        self._opened_at = self._clock()

    @property
    def open_remaining(self) -> float:
        """Seconds until a trial call is allowed."""
        remain: float = self._opened_at + self._recovery_timeout - self._clock()
        return max(remain, 0.0)


class Breaker:
    """One named circuit; `await breaker.call(fn, …)` runs `fn` through it."""

    def __init__(
        self,
        name: str,
        settings: CircuitBreakerSettings,
        *,
        failures: tuple[type[BaseException], ...] = (Exception,),
        clock: Callable[[], float] = loop_clock,
    ) -> None:
        self.name = name
        self._breaker = _ClockedBreaker(
            clock=clock, name=name, failure_threshold=settings.failure_threshold,
            recovery_timeout=settings.recovery_timeout, expected_exception=failures,
        )
        metrics.CIRCUIT_OPEN.labels(name=name).set(0)

    @property
    def state(self) -> str:
        """`closed`, `open` or `half_open`."""
        return str(self._breaker.state)

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` unless the circuit is open."""
        if self._breaker.opened:
            self._publish()
            remaining = self._breaker.open_remaining
            msg = f"circuit {self.name!r} is open for another {remaining:.1f}s"
            raise CircuitOpenError(msg) from circuitbreaker.CircuitBreakerError(self._breaker)
        try:
            result: T = await self._breaker.call_async(fn, *args, **kwargs)
        finally:
            self._publish()
        return result

    def _publish(self) -> None:
        is_open = self._breaker.state == circuitbreaker.STATE_OPEN
        metrics.CIRCUIT_OPEN.labels(name=self.name).set(1 if is_open else 0)
