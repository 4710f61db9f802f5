"""The backoff schedule: exponential, full jitter, capped by `maxDelay` and the deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tenacity

if TYPE_CHECKING:
    from collections.abc import Callable

    from gitops_lifecycle.retry.policy import Policy


def ceiling(policy: Policy, retry_number: int) -> float:
    """The longest delay before retry `retry_number` (1 = after the first attempt)."""
    grown = policy.base_delay * policy.backoff_multiplier ** (retry_number - 1)
    return min(policy.max_delay, grown)


def backoff(policy: Policy) -> tenacity.wait.wait_base:
    """Tenacity's exponential wait: uniform in [0, ceiling] with jitter, the ceiling without."""
    kind = tenacity.wait_random_exponential if policy.jitter else tenacity.wait_exponential
    return kind(
        multiplier=policy.base_delay, max=policy.max_delay, exp_base=policy.backoff_multiplier,
    )


class CappedWait(tenacity.wait.wait_base):
    """A wait that never sleeps past the deadline."""

    def __init__(self, inner: tenacity.wait.wait_base, remaining: Callable[[], float]) -> None:
        self.inner = inner
        self.remaining = remaining

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        """The inner delay, cut to the time left (never negative)."""
        return max(0.0, min(self.inner(retry_state), self.remaining()))


def expected_backoff(policy: Policy) -> float:
    """Mean total sleep needed to make all `maxAttempts` attempts."""
    total = sum(ceiling(policy, n) for n in range(1, policy.max_attempts))
    return total / 2 if policy.jitter else total
