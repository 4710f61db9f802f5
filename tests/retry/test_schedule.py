"""The backoff schedule: full jitter under an exponential ceiling, never past the deadline."""

from __future__ import annotations

import tenacity
from hypothesis import given
from hypothesis import strategies as st

from gitops_lifecycle.retry.schedule import CappedWait, backoff, ceiling, expected_backoff
from gitops_lifecycle.settings import RetryPolicy

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 50),
    base_delay=st.floats(0.001, 30),
    max_delay=st.floats(0.001, 600),
    backoff_multiplier=st.floats(1, 10),
    jitter=st.booleans(),
    timeout=st.floats(0, 3600),
)


def state_after(attempts: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempts
    return state


@given(policy=policies, attempts=st.integers(1, 200))
def test_every_delay_is_between_zero_and_the_exponential_ceiling(policy, attempts):
    delay = backoff(policy)(state_after(attempts))
    bound = min(policy.max_delay, policy.base_delay * policy.backoff_multiplier ** (attempts - 1))
    assert 0 <= delay <= bound * (1 + 1e-9)


@given(policy=policies, attempts=st.integers(1, 200), left=st.floats(-10, 3600))
def test_no_delay_reaches_past_the_deadline(policy, attempts, left):
    delay = CappedWait(backoff(policy), lambda: left)(state_after(attempts))
    assert 0 <= delay <= max(left, 0)


@given(policy=policies.filter(lambda p: not p.jitter), attempts=st.integers(1, 200))
def test_without_jitter_the_delay_is_the_ceiling(policy, attempts):
    delay = backoff(policy)(state_after(attempts))
    assert abs(delay - ceiling(policy, attempts)) <= 1e-9 * max(1, delay)


@given(policy=policies.filter(lambda p: p.jitter))
def test_with_jitter_the_delays_spread_below_the_ceiling(policy):
    delays = {backoff(policy)(state_after(3)) for _ in range(20)}
    assert len(delays) > 1 or ceiling(policy, 3) == 0


def test_the_expected_backoff_is_half_the_ceilings_with_jitter():
    policy = RetryPolicy(max_attempts=4, base_delay=1, backoff_multiplier=2, max_delay=3)
    assert expected_backoff(policy) == (1 + 2 + 3) / 2
    assert expected_backoff(policy.model_copy(update={"jitter": False})) == 6
