"""A ProxyConfig's life against the simulated cluster and Authentik."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.simulation import SimulatedCluster
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import PC, proxyconfig, running, settings

pytestmark = pytest.mark.looptime


async def test_create_gives_provider_application_and_outpost(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        provider = sim_authentik.provider("grafana")
        assert provider is not None
        assert provider["external_host"] == "https://grafana.example.com"
        app = sim_authentik.application("grafana")
        assert app is not None
        assert app["provider"] == provider["pk"]
        assert app["meta_publisher"] == "gitops-lifecycle:test:apps/grafana"
        assert provider["pk"] in sim_authentik.outpost()["providers"]
        status = run.status("grafana")
        assert status["authentikProviderId"] == provider["pk"]
        assert status["observedGeneration"] == 1


async def test_changed_external_host_patches_that_field_only(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        before = len(run.writes())
        sim.patch(PC, "ProxyConfig", "grafana", namespace="apps", patch=
                  {"spec": {"externalHost": "https://dashboards.example.com"}})
        await run.until(lambda: (sim_authentik.provider("grafana") or {}).get("external_host")
                        == "https://dashboards.example.com")
        writes = run.writes()[before:]
        assert [(w.method, w.body) for w in writes] == [
            ("PATCH", {"external_host": "https://dashboards.example.com",
                       "mode": "forward_single"})]
        await run.until(lambda: run.status("grafana").get("observedGeneration") == 2)


async def test_hand_edit_repaired_at_resync_and_nothing_written_when_unchanged(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    config = settings(sim_authentik, serviceDiscovery={"resyncInterval": "5m"})
    async with running(sim, sim_authentik, tmp_path, config) as run:
        sim.create(proxyconfig("grafana"))
        sim.create(proxyconfig("prometheus"))
        await run.ready("grafana", "prometheus")
        settled = len(run.writes())
        requests = len(sim_authentik.requests)
        listed = run.discovery.controller.refreshed
        sim.clock.advance(300)
        await listed.wait()
        await asyncio.sleep(1)
        assert len(run.writes()) == settled, "an unchanged ProxyConfig is never rewritten"
        resync = list(sim_authentik.requests[requests:])
        assert all(r.method == "GET" and "page" in r.query for r in resync), resync
        sim_authentik.edit_provider("grafana", skip_path_regex="^/.*$",
                                    basic_auth_enabled=False)
        sim_authentik.set_outpost_providers(
            [p for p in sim_authentik.outpost()["providers"]
             if p != sim_authentik.provider("grafana")["pk"]])
        listed = run.discovery.controller.refreshed
        sim.clock.advance(300)
        await listed.wait()
        await run.until(lambda: sim_authentik.provider("grafana")["skip_path_regex"]
                        == "^/api/.*$")
        await run.until(lambda: sim_authentik.provider("grafana")["pk"]
                        in sim_authentik.outpost()["providers"])
        patches = [w.body for w in run.writes()[settled:] if "providers/proxy" in w.path]
        assert patches == [{"skip_path_regex": "^/api/.*$", "mode": "forward_single"}]


async def test_delete_removes_exactly_what_we_created(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    hand_made = sim_authentik.create_provider("hand-made", "https://hand.example.com")
    sim_authentik.set_outpost_providers([hand_made["pk"]])
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        sim.create(proxyconfig("prometheus"))
        await run.ready("grafana", "prometheus")
        assert run.get("grafana")["metadata"]["finalizers"] == ["gitops.io/authentik-cleanup"]
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        await run.until(lambda: run.get("grafana") is None)
        assert sim_authentik.provider("grafana") is None
        assert sim_authentik.application("grafana") is None
        prometheus = sim_authentik.provider("prometheus")["pk"]
        assert sorted(sim_authentik.outpost()["providers"]) == sorted(
            [hand_made["pk"], prometheus])
        assert sim_authentik.provider("hand-made") is not None


async def test_same_name_provider_not_ours_fails_and_is_left_alone(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    sim_authentik.create_provider("grafana", "https://hand.example.com")
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.until(lambda: run.phase("grafana") == "Failed")
        ready = run.condition("grafana")
        assert ready["reason"] == "NotManaged"
        assert "exists and is not managed by gitops-lifecycle" in ready["message"]
        assert run.writes() == []
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        await run.until(lambda: run.get("grafana") is None)
        assert run.writes() == []
        assert sim_authentik.provider("grafana")["external_host"] == "https://hand.example.com"


async def test_second_claim_on_a_provider_name_fails_with_conflict(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        sim.create(proxyconfig("copy", config={"providerName": "Grafana"}))
        await run.until(lambda: run.phase("copy") == "Failed")
        assert run.condition("copy")["reason"] == "Conflict"
        assert "apps/grafana" in run.condition("copy")["message"]
        sim.delete(PC, "ProxyConfig", "copy", namespace="apps")
        await run.until(lambda: run.get("copy") is None)
        assert sim_authentik.provider("grafana") is not None
        assert run.phase("grafana") == "Ready"


async def test_adopt_takes_over_an_unmarked_provider_when_asked(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    old = sim_authentik.create_provider("grafana", "https://grafana.example.com")
    sim_authentik.create_application("grafana", provider=old["pk"])
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana", config={"adopt": True}))
        await run.ready("grafana")
        assert sim_authentik.provider("grafana")["pk"] == old["pk"]
        assert sim_authentik.application("grafana")["meta_publisher"] == \
            "gitops-lifecycle:test:apps/grafana"
        assert "Adopted" in run.events.reasons("grafana")


async def test_retain_leaves_objects_without_the_marker(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("grafana", deletionPolicy="Retain"))
        await run.ready("grafana")
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        await run.until(lambda: run.get("grafana") is None)
        assert sim_authentik.provider("grafana") is not None
        assert sim_authentik.application("grafana")["meta_publisher"] == ""


async def test_invalid_spec_fails_with_a_message_and_touches_nothing(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        sim.create(proxyconfig("bad", config={"skipPathRegex": "(unclosed"}))
        await run.until(lambda: run.phase("bad") == "Failed")
        assert "skipPathRegex: line 1 does not compile" in run.condition("bad")["message"]
        assert run.writes() == []


async def test_authentik_down_degrades_opens_the_breaker_deletes_nothing_then_recovers(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    config = settings(sim_authentik, serviceDiscovery={"resyncInterval": "5m"})
    async with running(sim, sim_authentik, tmp_path, config) as run:
        sim.create(proxyconfig("grafana"))
        await run.ready("grafana")
        settled = len(run.writes())
        sim_authentik.faults.down()
        listed = run.discovery.controller.refreshed
        sim.clock.advance(300)
        await listed.wait()
        await run.until(lambda: run.phase("grafana") == "Degraded")
        assert run.condition("grafana")["reason"] == "AuthentikUnavailable"
        sim.delete(PC, "ProxyConfig", "grafana", namespace="apps")
        sim.create(proxyconfig("loki"))
        await run.until(lambda: run.phase("loki") == "Degraded")
        await run.until(lambda: run.discovery.client.circuit_state == "open")
        assert REGISTRY.get_sample_value("gitops_authentik_circuit_state") == 1
        await asyncio.sleep(60)
        assert run.get("grafana") is not None, "the finalizer waits for Authentik"
        assert run.phase("grafana") == "Degraded"
        sim_authentik.faults.up()
        await run.ready("loki")
        await run.until(lambda: run.get("grafana") is None)
        assert sim_authentik.provider("grafana") is None
        deletes = [w for w in run.writes()[settled:] if w.method == "DELETE"]
        assert {w.path for w in deletes} == {
            "/api/v3/providers/proxy/1/", "/api/v3/core/applications/grafana/"}
        assert run.discovery.client.circuit_state == "closed"


async def test_unsupported_authentik_version_fails_clearly(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    async with SimulatedAuthentik(version="2024.6.3", validate_schema="off") as old, \
            running(sim, old, tmp_path, settings(old)) as run:
        sim.create(proxyconfig("grafana"))
        await run.until(lambda: run.phase("grafana") == "Failed")
        assert run.condition("grafana")["reason"] == "UnsupportedVersion"
        assert "older than the oldest supported release" in run.condition("grafana")["message"]
        assert old.writes() == []
        assert REGISTRY.get_sample_value("gitops_authentik_info",
                                         {"version": "2024.6.3"}) == 1


async def test_labelled_service_gets_an_owned_proxyconfig(
    sim: SimulatedCluster, sim_authentik: SimulatedAuthentik, tmp_path: Path
) -> None:
    async with running(sim, sim_authentik, tmp_path, settings(sim_authentik)) as run:
        service = sim.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "grafana", "namespace": "apps",
                         "labels": {"authentik.io/proxy": "enabled"},
                         "annotations": {"authentik.io/external-host": "https://g.example.com",
                                         "authentik.io/port": "3000"}},
            "spec": {"ports": [{"port": 3000}]},
        })
        await run.ready("grafana")
        owner = run.get("grafana")["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"]) == ("Service", service["metadata"]["uid"])
        provider = sim_authentik.provider("apps-grafana")
        assert provider["internal_host"] == "http://grafana.apps.svc.cluster.local:3000"
        sim.patch("v1", "Service", "grafana", namespace="apps", patch={
            "metadata": {"annotations": {"authentik.io/external-host": "https://h.example.com"}}})
        await run.until(lambda: sim_authentik.provider("apps-grafana")["external_host"]
                        == "https://h.example.com")
        sim.patch("v1", "Service", "grafana", namespace="apps",
                  patch={"metadata": {"labels": {"authentik.io/proxy": None}}})
        await run.until(lambda: run.get("grafana") is None)
        assert sim_authentik.provider("apps-grafana") is None
