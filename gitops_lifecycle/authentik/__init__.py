"""A client of the Authentik API (aiohttp): pagination, errors, retries and a circuit breaker.

It knows nothing of Kubernetes: the discovery controllers decide what to ask of it.
"""

from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import (
    AuthentikError,
    ForbiddenError,
    IncompleteListError,
    RejectedError,
    UnavailableError,
)

__all__ = [
    "Authentik",
    "AuthentikError",
    "ForbiddenError",
    "IncompleteListError",
    "RejectedError",
    "UnavailableError",
]
