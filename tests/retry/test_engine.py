"""The retry engine in virtual time: outcomes, attempt counts, deadlines, attempt timeouts."""

from __future__ import annotations

import asyncio

import pytest

from gitops_lifecycle.retry import engine
from gitops_lifecycle.retry.errors import NotReady, NotRetryable
from gitops_lifecycle.settings import RetryPolicy

pytestmark = pytest.mark.looptime


def policy(**changes: object) -> RetryPolicy:
    base = {"max_attempts": 100, "base_delay": 1, "max_delay": 8, "timeout": 60,
            "attempt_timeout": 5}
    return RetryPolicy.model_validate({**base, **changes})


class Flaky:
    """Fails with `error` until `ready_at` (loop time), recording when it was called."""

    def __init__(self, ready_at: float = float("inf"), error: Exception | None = None) -> None:
        self.ready_at = ready_at
        self.error = error or NotReady("not yet")
        self.calls: list[tuple[float, float]] = []

    async def __call__(self, budget: float) -> None:
        now = asyncio.get_running_loop().time()
        self.calls.append((now, budget))
        if now < self.ready_at:
            raise self.error


async def test_ready_as_soon_as_an_attempt_passes():
    check = Flaky(ready_at=10)
    result = await engine.run(check, policy=policy())
    assert result.outcome == engine.READY
    assert result.attempts == len(check.calls) > 1
    assert result.duration >= 10


async def test_a_not_retryable_error_ends_at_once():
    check = Flaky(error=NotRetryable("bad password"))
    result = await engine.run(check, policy=policy())
    assert (result.outcome, result.attempts, result.last_error) == (
        engine.NOT_RETRYABLE, 1, "bad password")


async def test_the_deadline_ends_the_wait_exactly_at_the_timeout():
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await engine.run(Flaky(), policy=policy(timeout=30))
    assert result.outcome == engine.TIMEOUT
    assert loop.time() - start == pytest.approx(30, abs=0.01)


async def test_running_out_of_attempts_is_not_a_timeout():
    check = Flaky()
    result = await engine.run(check, policy=policy(max_attempts=3))
    assert (result.outcome, result.attempts, len(check.calls)) == (engine.EXHAUSTED, 3, 3)


async def test_an_attempt_gets_its_timeout_capped_by_the_time_left():
    check = Flaky()
    await engine.run(check, policy=policy(timeout=12, attempt_timeout=5, jitter=False))
    started = check.calls[0][0]
    for at, budget in check.calls:
        assert budget <= 5
        assert at + budget <= started + 12 + 1e-6


async def test_a_hanging_attempt_is_cut_at_its_timeout_and_retried():
    calls = []

    async def hangs(budget: float) -> None:
        calls.append(budget)
        await asyncio.sleep(3600)

    result = await engine.run(hangs, policy=policy(timeout=20, attempt_timeout=4))
    assert result.outcome == engine.TIMEOUT
    assert len(calls) > 2
    assert "timed out" in str(result.last_error)


async def test_connection_errors_are_retried():
    attempts = []

    async def refused(budget: float) -> None:
        attempts.append(budget)
        if len(attempts) < 3:
            raise ConnectionRefusedError("refused")

    result = await engine.run(refused, policy=policy())
    assert (result.outcome, result.attempts) == (engine.READY, 3)


async def test_an_unexpected_exception_ends_with_error():
    async def broken(budget: float) -> None:
        raise RuntimeError("bug")

    result = await engine.run(broken, policy=policy())
    assert (result.outcome, result.attempts, result.last_error) == (engine.ERROR, 1, "bug")


async def test_the_observer_hears_of_every_retried_failure_with_its_delay():
    heard = []

    def observer(*, attempt: int, error: BaseException, delay: float | None) -> None:
        heard.append((attempt, str(error), delay))

    await engine.run(Flaky(), policy=policy(max_attempts=4, jitter=False), observer=observer)
    assert heard == [(1, "not yet", 1.0), (2, "not yet", 2.0), (3, "not yet", 4.0)]


async def test_cancelling_keeps_the_attempts_made_so_far():
    retry = engine.Retry(Flaky(), policy=policy(jitter=False))
    task = asyncio.create_task(retry.run())
    await asyncio.sleep(3.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = retry.result(engine.TERMINATED)
    assert (result.outcome, result.attempts) == (engine.TERMINATED, 3)
    assert result.last_error == "not yet"
