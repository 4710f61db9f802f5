"""The observability server: metrics in both formats, probes that name the failing check."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from gitops_lifecycle.health import Health
from gitops_lifecycle.server import ObservabilityServer
from gitops_lifecycle.settings import ServerSettings


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
async def client(health: Health) -> AsyncIterator[TestClient[object, object]]:
    registry = CollectorRegistry()
    Counter("demo_things_total", "Things.", registry=registry).inc(3)
    server = ObservabilityServer(settings=ServerSettings(port=0), health=health, registry=registry)
    async with TestClient(TestServer(server.app())) as test_client:
        yield test_client


async def test_metrics_are_served_in_the_text_format(client: TestClient[object, object]) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    assert families["demo_things"].samples[0].value == 3


async def test_metrics_are_served_as_openmetrics_when_asked(
    client: TestClient[object, object],
) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await response.text()).rstrip().endswith("# EOF")


async def test_probes_pass_with_no_checks(client: TestClient[object, object]) -> None:
    for path in ("/healthz", "/readyz"):
        response = await client.get(path)
        assert response.status == 200
        assert "check passed" in await response.text()


async def test_readiness_names_the_failing_check(
    client: TestClient[object, object], health: Health
) -> None:
    synced = False
    health.readiness("informer:jobs", lambda: None if synced else "cache not synced")
    health.readiness("informer:pods", lambda: None)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.text()
    assert "[-]informer:jobs failed: cache not synced" in body
    assert "[+]informer:pods ok" in body
    synced = True
    assert (await client.get("/readyz")).status == 200
    assert (await client.get("/healthz")).status == 200  # readiness does not touch liveness


async def test_a_check_that_raises_counts_as_failing(
    client: TestClient[object, object], health: Health
) -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    health.liveness("component:x", broken)
    response = await client.get("/healthz")
    assert response.status == 503
    assert "component:x failed" in await response.text()
