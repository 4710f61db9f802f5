"""The simulated Authentik's proxy providers: the real server's contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from authentik_http import PROXY, call, provider_body, session

from gitops_lifecycle.simulation.authentik import SimulatedAuthentik


@pytest.fixture
async def http(sim_authentik: SimulatedAuthentik) -> AsyncIterator[aiohttp.ClientSession]:
    async with session(sim_authentik) as client:
        yield client


async def test_a_created_provider_has_an_int_pk_the_model_defaults_and_redirect_uris(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    status, created = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "grafana"))
    _, read = await call(http, "GET", f"{PROXY}{created['pk']}/")
    assert status == 201
    assert isinstance(created["pk"], int)
    assert read == created
    assert (read["mode"], read["internal_host_ssl_validation"], read["intercept_header_auth"],
            read["basic_auth_enabled"], read["skip_path_regex"]) == (
        "forward_single", True, True, False, "")
    assert read["redirect_uris"][1]["url"] == \
        "https://grafana.example.com?X-authentik-auth-callback=true"


async def test_every_save_adds_the_managed_scope_mappings_back(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    _, created = await call(http, "POST", PROXY,
                            json=provider_body(sim_authentik, "a", property_mappings=[]))
    _, patched = await call(http, "PATCH", f"{PROXY}{created['pk']}/",
                            json={"mode": "forward_single", "property_mappings": []})
    assert len(created["property_mappings"]) == 5
    assert sorted(patched["property_mappings"]) == sorted(created["property_mappings"])


async def test_a_patch_without_mode_is_validated_as_proxy_and_refused_without_internal_host(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    _, created = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "a"))
    status, body = await call(http, "PATCH", f"{PROXY}{created['pk']}/",
                              json={"external_host": "https://b.example.com"})
    assert (status, body) == (400, {"internal_host": [
        "Internal host cannot be empty when forward auth is disabled."]})
    assert sim_authentik.provider("a")["external_host"] == "https://a.example.com"


async def test_a_patch_with_mode_changes_only_the_fields_it_carries(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    _, created = await call(http, "POST", PROXY,
                            json=provider_body(sim_authentik, "a", skip_path_regex="^/api/"))
    status, patched = await call(http, "PATCH", f"{PROXY}{created['pk']}/", json={
        "mode": "forward_single", "external_host": "https://b.example.com"})
    assert status == 200
    assert patched["external_host"] == "https://b.example.com"
    assert patched["skip_path_regex"] == "^/api/"


async def test_a_patch_without_mode_passes_when_it_carries_an_internal_host(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    _, created = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "a"))
    status, patched = await call(http, "PATCH", f"{PROXY}{created['pk']}/",
                                 json={"internal_host": "http://a.default.svc:80"})
    assert status == 200
    assert patched["mode"] == "forward_single"


async def test_proxy_mode_needs_an_internal_host_on_create(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    body = provider_body(sim_authentik, "a")
    del body["mode"]
    status, errors = await call(http, "POST", PROXY, json=body)
    assert (status, list(errors)) == (400, ["internal_host"])


async def test_missing_and_unknown_flows_are_field_errors(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    body = provider_body(sim_authentik, "a", authorization_flow=
                         "00000000-0000-4000-8000-000000000000")
    del body["invalidation_flow"]
    status, errors = await call(http, "POST", PROXY, json=body)
    assert status == 400
    assert errors == {
        "authorization_flow": [('Invalid pk "00000000-0000-4000-8000-000000000000" - '
                               "object does not exist.")],
        "invalidation_flow": ["This field is required."],
    }


async def test_every_field_error_is_reported_at_once(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    sim_authentik.create_provider("taken", "https://taken.example.com")
    status, errors = await call(http, "POST", PROXY, json={
        "name": "taken", "external_host": "not a url", "authorization_flow": "x"})
    assert status == 400
    assert errors == {
        "name": ["provider with this name already exists."],
        "external_host": ["Enter a valid URL."],
        "authorization_flow": ["Must be a valid UUID."],
        "invalidation_flow": ["This field is required."],
    }


async def test_provider_names_are_unique_across_provider_types(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    sim_authentik.create_other_provider("grafana", "oauth2")
    status, errors = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "grafana"))
    _, proxies = await call(http, "GET", PROXY)
    _, every = await call(http, "GET", "/api/v3/providers/all/")
    assert (status, errors) == (400, {"name": ["provider with this name already exists."]})
    assert proxies["results"] == []
    assert [p["name"] for p in every["results"]] == ["grafana"]


async def test_basic_auth_needs_both_attributes_in_the_same_request(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    status, errors = await call(http, "POST", PROXY, json=provider_body(
        sim_authentik, "a", basic_auth_enabled=True, basic_auth_user_attribute="user"))
    assert (status, errors) == (400, {"basic_auth_enabled": [
        "User and password attributes must be set when basic auth is enabled."]})


async def test_the_list_pages_end_with_next_zero(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    for i in range(5):
        sim_authentik.create_provider(f"p{i}", f"https://p{i}.example.com")
    pages, number = [], 1
    while number:
        _, body = await call(http, "GET", PROXY, params={"page": number, "page_size": 2})
        pages.append([p["name"] for p in body["results"]])
        number = body["pagination"]["next"]
    assert pages == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    assert body["pagination"] == {"next": 0, "previous": 2, "count": 5, "current": 3,
                                  "total_pages": 3, "start_index": 5, "end_index": 5}


async def test_page_size_is_capped_at_100_and_a_page_past_the_end_is_404(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    for i in range(150):
        sim_authentik.create_provider(f"p{i:03}", f"https://p{i}.example.com")
    _, first = await call(http, "GET", PROXY, params={"page_size": 1000})
    status, past = await call(http, "GET", PROXY, params={"page": 3, "page_size": 1000})
    assert len(first["results"]) == 100
    assert first["pagination"]["next"] == 2
    assert (status, past) == (404, {"detail": "Invalid page."})


async def test_name_is_not_a_filter_so_it_lists_everything_but_name_iexact_filters(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    sim_authentik.create_provider("Grafana", "https://g.example.com")
    sim_authentik.create_provider("loki", "https://l.example.com")
    _, by_name = await call(http, "GET", PROXY, params={"name": "loki"})
    _, by_iexact = await call(http, "GET", PROXY, params={"name__iexact": "grafana"})
    assert [p["name"] for p in by_name["results"]] == ["Grafana", "loki"]
    assert [p["name"] for p in by_iexact["results"]] == ["Grafana"]


async def test_put_replaces_the_writable_fields_and_delete_answers_204(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    _, created = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "a"))
    status, put = await call(http, "PUT", f"{PROXY}{created['pk']}/", json=provider_body(
        sim_authentik, "a", external_host="https://new.example.com"))
    deleted, _ = await call(http, "DELETE", f"{PROXY}{created['pk']}/")
    gone, body = await call(http, "GET", f"{PROXY}{created['pk']}/")
    assert (status, put["external_host"]) == (200, "https://new.example.com")
    assert (deleted, gone) == (204, 404)
    assert body == {"detail": "No ProxyProvider matches the given query."}


async def test_bodies_are_checked_against_authentik_clients_models(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    # Only the official schema knows this field's type: the simulator's own rules do not.
    assert sim_authentik.validates_schema
    status, errors = await call(http, "POST", PROXY, json=provider_body(
        sim_authentik, "a", jwt_federation_providers=["not-an-int"]))
    assert (status, errors) == (400, {"jwt_federation_providers": [
        "A valid integer is required."]})


async def test_without_the_schema_check_only_the_servers_own_rules_apply() -> None:
    async with SimulatedAuthentik(validate_schema="off") as authentik, \
            session(authentik) as http:
        status, _ = await call(http, "POST", PROXY, json=provider_body(
            authentik, "a", jwt_federation_providers=["not-an-int"]))
    assert not authentik.validates_schema
    assert status == 201


async def test_text_fields_are_stored_without_surrounding_whitespace(
    sim_authentik: SimulatedAuthentik, http: aiohttp.ClientSession
) -> None:
    # DRF's CharField strips input by default (trim_whitespace=True); so does Authentik.
    status, created = await call(http, "POST", PROXY, json=provider_body(
        sim_authentik, " grafana ", skip_path_regex=" ^/api/.*$\n"))
    assert status == 201
    assert (created["name"], created["skip_path_regex"]) == ("grafana", "^/api/.*$")
    status, _ = await call(http, "POST", PROXY, json=provider_body(sim_authentik, "grafana  "))
    assert status == 400
