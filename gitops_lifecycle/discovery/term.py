"""Writes to Authentik end with the leader's term, as cleanup's do in Kubernetes.

A replica that can no longer be sure it leads (its renewals stalled, or it is shutting down)
must have stopped acting before another could take over: every write (create, update,
outpost membership, deletion; retries included) starts only before the term's deadline, is
abandoned when it passes, and one given up without Authentik's answer holds the handover back
(`LeaderElector`), since Authentik carries out a request it has received even after the
client has gone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gitops_lifecycle.authentik.client import Gate
from gitops_lifecycle.authentik.errors import AuthentikError, UnavailableError
from gitops_lifecycle.kube.leader import NotLeadingError
from gitops_lifecycle.kube.leader import Term as LeaderTerm

Term = LeaderTerm | None
"""The leader's term (None: no election, always acting)."""


def answered(exc: BaseException) -> bool:
    """Whether Authentik itself refused a write (4xx): it did nothing."""
    return isinstance(exc, AuthentikError) and not isinstance(exc, UnavailableError)


def gate(term: Term) -> Gate | None:
    """What every Authentik write of this replica passes; UnavailableError out of the term."""
    if term is None:
        return None
    leader = term

    async def through(action: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await leader.write(action, answered=answered)
        except NotLeadingError as exc:
            raise UnavailableError(str(exc)) from None

    return through
