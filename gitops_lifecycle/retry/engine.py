"""Run an attempt again and again, on tenacity, until it passes, cannot pass, or time is up."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Protocol

import tenacity

from gitops_lifecycle.retry.errors import DeadlineReached, NotReady, NotRetryable
from gitops_lifecycle.retry.schedule import CappedWait, backoff

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gitops_lifecycle.retry.policy import Policy

# Below this much time left an attempt could not even open a socket: call it the deadline.
_MIN_ATTEMPT = 0.001

READY = "ready"
TIMEOUT = "timeout"
NOT_RETRYABLE = "not_retryable"
EXHAUSTED = "attempts_exhausted"
TERMINATED = "terminated"
ERROR = "error"


class Observer(Protocol):
    """Told about each failed attempt, e.g. to log it."""

    def __call__(self, *, attempt: int, error: BaseException, delay: float | None) -> None: ...


@dataclasses.dataclass
class Result:
    """How a retried operation ended."""

    outcome: str
    attempts: int = 0
    duration: float = 0.0
    error: BaseException | None = None

    @property
    def last_error(self) -> str | None:
        """The last failure as one line, or None."""
        if self.error is None:
            return None
        return describe(self.error)


def describe(error: BaseException) -> str:
    """An error as one line: its message, or its type when it has none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


@dataclasses.dataclass
class _Run:
    policy: Policy
    attempt: Callable[[float], Awaitable[None]]
    observer: Observer | None
    started: float
    attempts: int = 0
    last_error: BaseException | None = None

    @property
    def deadline(self) -> float:
        return self.started + self.policy.timeout

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    async def once(self) -> None:
        left = self.remaining()
        if self.attempts and left < _MIN_ATTEMPT:
            raise DeadlineReached(f"deadline of {self.policy.timeout:g}s passed")
        self.attempts += 1
        # The first attempt is always made, even with no time left (`--timeout 0`).
        budget = self.policy.attempt_timeout if self.attempts == 1 and left < _MIN_ATTEMPT \
            else min(self.policy.attempt_timeout, left)
        try:
            await self._bounded(budget)
        except (NotReady, NotRetryable) as exc:
            self.last_error = exc
            raise

    async def _bounded(self, budget: float) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        bound = asyncio.timeout(budget)
        try:
            async with bound:
                await self.attempt(budget)
        except TimeoutError as exc:
            if not bound.expired():
                # The attempt's own timeout (a driver's connect_timeout): an ordinary failure.
                took = loop.time() - began
                text = " ".join(str(exc).split())
                raise NotReady(f"{text} (after {took:.3g}s)" if text
                               else f"timed out after {took:.3g}s") from exc
            if budget < self.policy.attempt_timeout and self.last_error is not None:
                # Cut short by the deadline: the previous failure says more than this one.
                raise DeadlineReached(f"deadline of {self.policy.timeout:g}s passed") from exc
            raise NotReady(f"attempt timed out after {budget:.3g}s") from exc
        except OSError as exc:
            raise NotReady(describe(exc)) from exc

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        if self.observer is not None and state.outcome is not None:
            error = state.outcome.exception()
            assert error is not None
            self.observer(attempt=self.attempts, error=error, delay=state.upcoming_sleep)


async def run(
    attempt: Callable[[float], Awaitable[None]],
    *,
    policy: Policy,
    observer: Observer | None = None,
) -> Result:
    """Call `attempt(budget)` until it returns; it raises NotReady to ask for another try."""
    return await Retry(attempt, policy=policy, observer=observer).run()


class Retry:
    """One retried operation; `result()` tells how far it got even when it was cancelled."""

    def __init__(
        self,
        attempt: Callable[[float], Awaitable[None]],
        *,
        policy: Policy,
        observer: Observer | None = None,
    ) -> None:
        self._state = _Run(policy=policy, attempt=attempt, observer=observer, started=0.0)

    async def run(self) -> Result:
        """Retry until ready, not retryable, out of attempts or out of time."""
        state = self._state
        state.started = asyncio.get_running_loop().time()
        retrying = tenacity.AsyncRetrying(
            sleep=asyncio.sleep,
            stop=tenacity.stop_after_attempt(state.policy.max_attempts),
            wait=CappedWait(backoff(state.policy), state.remaining),
            retry=tenacity.retry_if_exception_type(NotReady),
            before_sleep=state.before_sleep,
            reraise=True,
        )
        try:
            await retrying(state.once)
        except NotRetryable:
            return self.result(NOT_RETRYABLE)
        except DeadlineReached:
            return self.result(TIMEOUT)
        except NotReady:
            return self.result(TIMEOUT if state.remaining() < _MIN_ATTEMPT else EXHAUSTED)
        except Exception as exc:
            state.last_error = exc
            return self.result(ERROR)
        state.last_error = None
        return self.result(READY)

    def result(self, outcome: str) -> Result:
        """The outcome with the attempts made so far, time taken and the last failure."""
        state = self._state
        duration = asyncio.get_running_loop().time() - state.started
        return Result(
            outcome=outcome, attempts=state.attempts, duration=duration, error=state.last_error
        )
