"""Stand-ins for the systems the daemon talks to, for tests, benchmarks, `simulate` and `demo`.

`kubeapi` is a simulated Kubernetes API server.

It speaks the real API's HTTP semantics (discovery, LIST with chunks, WATCH with
resourceVersions and bookmarks, preconditions, graceful deletion, finalizers, garbage
collection) so that kubernetes-asyncio and kubectl accept it, and it adds what tests need:
a controllable clock, fault injection, a request log and YAML scenarios.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitops_lifecycle.simulation.kubeapi.cluster import SimulatedCluster
    from gitops_lifecycle.simulation.kubeapi.errors import ApiError
    from gitops_lifecycle.simulation.kubeapi.faults import Faults, RequestRecord
    from gitops_lifecycle.simulation.kubeapi.scenario import ScenarioError

__all__ = ["ApiError", "Faults", "RequestRecord", "ScenarioError", "SimulatedCluster"]

# Imported on first use: a command that only lists the bundled scenarios (every command's
# --help does) must not load the server and aiohttp.web with it.
_HOMES = {"SimulatedCluster": "cluster", "ApiError": "errors", "Faults": "faults",
          "RequestRecord": "faults", "ScenarioError": "scenario"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"gitops_lifecycle.simulation.kubeapi.{_HOMES[name]}")
    return getattr(module, name)
