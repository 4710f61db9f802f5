"""Discovery's writes end with the leader's term, as cleanup's do.

A replica that can no longer be sure it leads (its renewals stalled, or it is shutting down)
must have stopped acting before another could take over: every write to Authentik (create,
update, outpost membership, deletion; retries included, through the client's gate) and every
deletion in Kubernetes (`within`) starts only before the term's deadline and is abandoned when
it passes, and one given up without an answer holds the handover back (`LeaderElector`):
Authentik carries out a request it has received even after the client has gone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gitops_lifecycle.authentik.client import Gate
from gitops_lifecycle.authentik.errors import AuthentikError, UnavailableError
from gitops_lifecycle.kube.leader import NotLeadingError, answered_by_kubernetes
from gitops_lifecycle.kube.leader import Term as LeaderTerm

T = TypeVar("T")
Term = LeaderTerm | None
"""The leader's term (None: no election, always acting)."""


def answered(exc: BaseException) -> bool:
    """Whether the server itself refused a write (a 4xx): it did nothing."""
    if isinstance(exc, AuthentikError):
        return not isinstance(exc, UnavailableError)
    return answered_by_kubernetes(exc)


async def within(term: Term, action: Callable[[], Awaitable[T]]) -> T:
    """Run `action()` only inside the term; UnavailableError when out of it or overrun."""
    if term is None:
        return await action()
    try:
        return await term.write(action, answered=answered)
    except NotLeadingError as exc:
        raise UnavailableError(str(exc)) from None


def gate(term: LeaderTerm) -> Gate:
    """What every Authentik write of this replica passes."""

    async def through(action: Callable[[], Awaitable[Any]]) -> Any:
        return await within(term, action)

    return through
