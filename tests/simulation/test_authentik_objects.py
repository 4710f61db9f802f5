"""The simulated Authentik's applications, outposts, flows, user and version."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from authentik_http import APPS, OUTPOSTS, PROXY, call, session

from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

EMBEDDED = "goauthentik.io/outposts/embedded"


@pytest.fixture
async def http(sim_authentik: SimulatedAuthentik) -> AsyncIterator[aiohttp.ClientSession]:
    async with session(sim_authentik) as client:
        yield client


async def test_a_fresh_authentik_has_the_default_flows_and_an_empty_embedded_outpost(
    http: aiohttp.ClientSession
) -> None:
    _, flows = await call(http, "GET", "/api/v3/flows/instances/",
                          params={"slug": "default-provider-invalidation-flow"})
    _, outposts = await call(http, "GET", OUTPOSTS, params={"managed__iexact": EMBEDDED})
    assert [(f["slug"], f["designation"]) for f in flows["results"]] == [
        ("default-provider-invalidation-flow", "invalidation")]
    assert [(o["name"], o["providers"], o["type"]) for o in outposts["results"]] == [
        ("authentik Embedded Outpost", [], "proxy")]


async def test_an_application_is_found_by_slug_and_links_its_provider(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    provider = sim_authentik.create_provider("grafana", "https://grafana.example.com")
    status, created = await call(http, "POST", APPS, json={
        "name": "Grafana", "slug": "grafana", "provider": provider["pk"],
        "meta_publisher": "gitops-lifecycle/prod"})
    _, read = await call(http, "GET", f"{APPS}grafana/")
    _, linked = await call(http, "GET", f"{PROXY}{provider['pk']}/")
    assert status == 201
    assert read["pk"] == created["pk"]
    assert read["provider_obj"]["name"] == "grafana"
    assert read["launch_url"] == "https://grafana.example.com"
    assert (linked["assigned_application_slug"], linked["assigned_application_name"]) == (
        "grafana", "Grafana")


async def test_a_provider_belongs_to_one_application_at_most(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    provider = sim_authentik.create_provider("grafana", "https://grafana.example.com")
    sim_authentik.create_application("first", provider="grafana")
    status, errors = await call(http, "POST", APPS, json={
        "name": "Second", "slug": "second", "provider": provider["pk"]})
    assert (status, errors) == (400, {"provider": [
        "application with this provider already exists."]})


async def test_application_slugs_are_unique_and_must_be_slugs(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    sim_authentik.create_application("grafana")
    taken, errors = await call(http, "POST", APPS, json={"name": "G", "slug": "grafana"})
    bad, slug_errors = await call(http, "POST", APPS, json={"name": "G", "slug": "no spaces"})
    assert (taken, errors) == (400, {"slug": ["application with this slug already exists."]})
    assert bad == 400
    assert list(slug_errors) == ["slug"]


async def test_applications_filter_by_meta_publisher_and_patch_by_slug(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    sim_authentik.create_application("ours", meta_publisher="gitops-lifecycle/prod")
    sim_authentik.create_application("theirs")
    _, ours = await call(http, "GET", APPS, params={"meta_publisher": "gitops-lifecycle/prod"})
    status, patched = await call(http, "PATCH", f"{APPS}theirs/", json={"group": "infra"})
    deleted, _ = await call(http, "DELETE", f"{APPS}ours/")
    assert [a["slug"] for a in ours["results"]] == ["ours"]
    assert (status, patched["group"]) == (200, "infra")
    assert deleted == 204
    assert [a["slug"] for a in sim_authentik.applications()] == ["theirs"]


async def test_deleting_a_provider_unlinks_its_application_and_leaves_its_outposts(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    gone = sim_authentik.create_provider("gone", "https://gone.example.com")
    sim_authentik.create_provider("kept", "https://kept.example.com")
    sim_authentik.create_application("gone", provider="gone")
    sim_authentik.set_outpost_providers(["gone", "kept"])
    status, _ = await call(http, "DELETE", f"{PROXY}{gone['pk']}/")
    assert status == 204
    assert sim_authentik.application("gone")["provider"] is None
    assert sim_authentik.outpost()["providers"] == [sim_authentik.provider("kept")["pk"]]


async def test_an_outpost_patch_replaces_the_whole_providers_list(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    a = sim_authentik.create_provider("a", "https://a.example.com")
    b = sim_authentik.create_provider("b", "https://b.example.com")
    outpost = sim_authentik.set_outpost_providers(["a"])
    status, patched = await call(http, "PATCH", f"{OUTPOSTS}{outpost['pk']}/",
                                 json={"providers": [b["pk"]]})
    _, provider_a = await call(http, "GET", f"{PROXY}{a['pk']}/")
    assert (status, patched["providers"]) == (200, [b["pk"]])
    assert provider_a["outpost_set"] == []


async def test_outpost_providers_must_exist_and_only_the_embedded_one_may_be_empty(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    sim_authentik.create_provider("a", "https://a.example.com")
    other = sim_authentik.create_outpost("other", providers=["a"])
    embedded = sim_authentik.outpost()
    unknown, errors = await call(http, "PATCH", f"{OUTPOSTS}{embedded['pk']}/",
                                 json={"providers": [999]})
    emptied, _ = await call(http, "PATCH", f"{OUTPOSTS}{embedded['pk']}/", json={"providers": []})
    refused, empty_errors = await call(http, "PATCH", f"{OUTPOSTS}{other['pk']}/",
                                       json={"providers": []})
    assert (unknown, errors) == (400, {"providers": ['Invalid pk "999" - object does not exist.']})
    assert emptied == 200
    assert (refused, empty_errors) == (400, {"providers": ["This list may not be empty."]})


async def test_the_embedded_outposts_name_cannot_change(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    embedded = sim_authentik.outpost()
    status, errors = await call(http, "PATCH", f"{OUTPOSTS}{embedded['pk']}/",
                                json={"name": "renamed"})
    assert (status, errors) == (400, {"name": ["Embedded outpost's name cannot be changed"]})


async def test_users_me_and_the_version_answer_for_a_good_token(
    http: aiohttp.ClientSession
) -> None:
    me_status, me = await call(http, "GET", "/api/v3/core/users/me/")
    _, version = await call(http, "GET", "/api/v3/admin/version/")
    assert (me_status, me["user"]["username"]) == (200, "gitops-lifecycle")
    assert version["version_current"] == "2026.8.5"


@pytest.mark.parametrize(("header", "detail"), [
    (None, "Authentication credentials were not provided."),
    ("Bearer wrong", "Token invalid/expired"),
    ("Basic dXNlcjpwdw==", "Unsupported authentication type"),
])
async def test_a_missing_or_bad_token_is_403_not_401(
    sim_authentik: SimulatedAuthentik, header: str | None, detail: str
) -> None:
    headers = {"Authorization": header} if header else {}
    async with aiohttp.ClientSession(base_url=sim_authentik.url) as http:
        status, body = await call(http, "GET", "/api/v3/core/users/me/", headers=headers)
    assert (status, body) == (403, {"detail": detail})
