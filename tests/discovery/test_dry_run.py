"""Global dry-run (`cleanup.dryRun`): service discovery writes nothing anywhere, and says what
it would have done.

Not to Authentik (providers, applications, outposts), not to Kubernetes (finalizers, status,
ProxyConfigs of labelled Services, Events, the orphan state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from gitops_lifecycle.discovery.records import FINALIZER
from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, Running, proxyconfig, running, settings
from tests.discovery.test_deletion_guard import labelled_service

pytestmark = pytest.mark.looptime


@pytest.fixture(autouse=True)
def info_logs() -> Iterator[None]:
    """What dry-run reports is logged at info: whatever level an earlier test left set."""
    before = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            structlog.configure(**before)


def kube_writes(run: Running, since: int = 0) -> list[Any]:
    return [r for r in run.sim.requests[since:] if r.method not in {"GET", "HEAD", "OPTIONS"}]


def said(logged: list[dict[str, Any]], words: str) -> list[dict[str, Any]]:
    return [entry for entry in logged
            if words in f"{entry.get('event')} {entry.get('action', '')}"]


async def test_dry_run_creates_nothing_and_reports_what_it_would_create(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    config = settings(sim_authentik, cleanup={"dryRun": True})
    sim.create(proxyconfig("grafana"))
    sim.create(labelled_service("prometheus"))
    with capture_logs() as logged:
        async with running(sim, sim_authentik, tmp_path, config) as run:
            await run.until(lambda: said(logged, "dry-run: would create a provider"))
            await asyncio.sleep(600)  # two resyncs
            assert sim_authentik.writes() == []
            assert kube_writes(run) == []
            assert run.events.recorded == []
            assert run.get("grafana")["metadata"].get("finalizers") is None
            assert "status" not in run.get("grafana")
            assert run.get("prometheus") is None
    plans = said(logged, "dry-run: would create a provider")
    assert [entry["provider"] for entry in plans] == ["grafana"]  # once, not at every resync
    assert said(logged, "dry-run: would create a ProxyConfig")


async def test_dry_run_changes_nothing_and_reports_what_it_would_change(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
    sim_authentik.edit_provider("grafana", external_host="https://elsewhere.example.com")
    sim.patch(PC, "ProxyConfig", "grafana", namespace="apps",
              patch={"spec": {"internalHost": "http://grafana.apps:3000"}})
    config = settings(sim_authentik, cleanup={"dryRun": True})
    writes, requests = len(sim_authentik.writes()), len(sim.requests)
    with capture_logs() as logged:
        async with running(sim, sim_authentik, tmp_path, config) as run:
            await run.until(lambda: said(logged, "dry-run: would update the provider"))
            await asyncio.sleep(600)
            assert len(sim_authentik.writes()) == writes
            assert kube_writes(run, requests) == []
    plan = said(logged, "dry-run: would update the provider")[0]
    assert plan["fields"] == ["external_host", "internal_host"]


async def test_dry_run_finalizer_deletes_nothing_and_keeps_the_finalizer(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
    writes, requests = len(sim_authentik.writes()), len(sim.requests)
    config = settings(sim_authentik, cleanup={"dryRun": True})
    with capture_logs() as logged:
        async with running(sim, sim_authentik, tmp_path, config) as run:
            sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
            await run.until(lambda: said(logged, "dry-run: would delete the provider"))
            await asyncio.sleep(600)
            assert len(sim_authentik.writes()) == writes
            assert sim_authentik.provider("grafana") is not None
            assert kube_writes(run, requests) == []
            # Held by the finalizer until dry-run ends: then it cleans up for real.
            assert run.get("grafana")["metadata"]["finalizers"] == [FINALIZER]
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        await run.until(lambda: run.get("grafana") is None)
        assert sim_authentik.provider("grafana") is None
