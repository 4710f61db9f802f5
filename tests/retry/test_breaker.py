"""The circuit breaker: opens after the threshold, fails fast, lets a trial through later."""

from __future__ import annotations

import pytest

from gitops_lifecycle import metrics
from gitops_lifecycle.retry.breaker import Breaker, CircuitOpenError
from gitops_lifecycle.settings import CircuitBreakerSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Remote:
    def __init__(self) -> None:
        self.calls = 0
        self.up = False

    async def __call__(self) -> str:
        self.calls += 1
        if not self.up:
            raise ConnectionError("down")
        return "ok"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock, request):
    settings = CircuitBreakerSettings(failure_threshold=3, recovery_timeout=30)
    return Breaker(f"test-{request.node.name}", settings, clock=clock)


def gauge(breaker: Breaker) -> float:
    return metrics.CIRCUIT_OPEN.labels(name=breaker.name)._value.get()


async def fail(breaker: Breaker, remote: Remote, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            await breaker.call(remote)


async def test_the_circuit_opens_after_the_threshold_and_then_fails_fast(breaker):
    remote = Remote()
    await fail(breaker, remote, 3)
    with pytest.raises(CircuitOpenError):
        await breaker.call(remote)
    assert remote.calls == 3
    assert (breaker.state, gauge(breaker)) == ("open", 1)


async def test_failures_below_the_threshold_are_forgotten_after_a_success(breaker):
    remote = Remote()
    await fail(breaker, remote, 2)
    remote.up = True
    assert await breaker.call(remote) == "ok"
    remote.up = False
    await fail(breaker, remote, 2)
    assert breaker.state == "closed"


async def test_after_the_recovery_timeout_one_trial_call_closes_it_again(breaker, clock):
    remote = Remote()
    await fail(breaker, remote, 3)
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        await breaker.call(remote)
    clock.now += 1
    assert breaker.state == "half_open"
    remote.up = True
    assert await breaker.call(remote) == "ok"
    assert (breaker.state, gauge(breaker)) == ("closed", 0)


async def test_a_failed_trial_opens_the_circuit_for_another_recovery_timeout(breaker, clock):
    remote = Remote()
    await fail(breaker, remote, 3)
    clock.now += 30
    await fail(breaker, remote, 1)
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        await breaker.call(remote)
    assert remote.calls == 4


async def test_errors_that_are_not_failures_do_not_count(clock):
    settings = CircuitBreakerSettings(failure_threshold=1, recovery_timeout=30)
    breaker = Breaker("test-selective", settings, failures=(ConnectionError,), clock=clock)

    async def not_found() -> None:
        raise LookupError("404")

    for _ in range(3):
        with pytest.raises(LookupError):
            await breaker.call(not_found)
    assert breaker.state == "closed"
