"""The Authentik client's metrics (defined with the others in `gitops_lifecycle.metrics`)."""

from __future__ import annotations

from gitops_lifecycle import metrics

CIRCUIT_STATES = {"closed": 0, "open": 1, "half_open": 2}
"""`gitops_authentik_circuit_state`: 0 closed, 1 open, 2 half-open."""


def count(endpoint: str, code: str) -> None:
    metrics.AUTHENTIK_REQUESTS.labels(endpoint=endpoint, code=code).inc()


def observe(endpoint: str, seconds: float) -> None:
    metrics.AUTHENTIK_DURATION.labels(endpoint=endpoint).observe(seconds)


def publish_circuit(state: str) -> None:
    metrics.AUTHENTIK_CIRCUIT.set(CIRCUIT_STATES.get(state, 0))
