"""Deletions in Authentik end with the leader's term, as cleanup's do in Kubernetes.

A replica that can no longer be sure it leads (its renewals stalled) must have stopped
acting before another could take over: each deletion starts only before the term's deadline
and is abandoned when the deadline passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gitops_lifecycle.authentik.errors import UnavailableError

T = TypeVar("T")
Term = Callable[[], float] | None
"""The event-loop time by which this replica must stop acting (None: no election)."""


async def within(term: Term, action: Callable[[], Awaitable[T]]) -> T:
    """Run `action()` only inside the term; UnavailableError when out of it or overrun."""
    if term is None:
        return await action()
    deadline = term()
    if asyncio.get_running_loop().time() >= deadline:
        raise UnavailableError("not leading: nothing is deleted")
    try:
        async with asyncio.timeout_at(deadline):
            return await action()
    except TimeoutError:
        raise UnavailableError("the leader's term ended during a deletion") from None
