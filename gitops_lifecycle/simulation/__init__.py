"""Stand-ins for the systems the daemon talks to, for tests, benchmarks, `simulate` and `demo`.

`kubeapi` is a simulated Kubernetes API server.

It speaks the real API's HTTP semantics (discovery, LIST with chunks, WATCH with
resourceVersions and bookmarks, preconditions, graceful deletion, finalizers, garbage
collection) so that kubernetes-asyncio and kubectl accept it, and it adds what tests need:
a controllable clock, fault injection, a request log and YAML scenarios.
"""

from gitops_lifecycle.simulation.kubeapi.cluster import SimulatedCluster
from gitops_lifecycle.simulation.kubeapi.errors import ApiError
from gitops_lifecycle.simulation.kubeapi.faults import Faults, RequestRecord
from gitops_lifecycle.simulation.kubeapi.scenario import ScenarioError

__all__ = ["ApiError", "Faults", "RequestRecord", "ScenarioError", "SimulatedCluster"]
