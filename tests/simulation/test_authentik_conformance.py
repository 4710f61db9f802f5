"""The simulated Authentik driven by authentik-client's own generated API client.

The client deserializes every answer into its strict response models, so a field the
simulator leaves out or shapes wrongly fails here, whatever our own client expects.
The generated client is synchronous (urllib3): each scenario runs in a thread while the
simulator serves from the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import authentik_client as ak
import pytest
from authentik_client.exceptions import ForbiddenException
from authentik_http import call, session

from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

T = TypeVar("T")
MARKER = "gitops-lifecycle/conformance"
EMBEDDED = "goauthentik.io/outposts/embedded"


def _api(authentik: SimulatedAuthentik, token: str | None = None) -> ak.ApiClient:
    configuration = ak.Configuration(host=f"{authentik.url}/api/v3",
                                     access_token=token or authentik.token)
    return ak.ApiClient(configuration)


async def _in_thread(authentik: SimulatedAuthentik, scenario: Callable[[ak.ApiClient], T],
                     token: str | None = None) -> T:
    def run() -> T:
        with _api(authentik, token) as client:
            return scenario(client)
    return await asyncio.to_thread(run)


def _flow(client: ak.ApiClient, slug: str) -> str:
    flows = ak.FlowsApi(client).flows_instances_list(slug=slug)
    assert flows.pagination.next == 0
    return str(flows.results[0].pk)


def _provider_request(client: ak.ApiClient, name: str) -> ak.ProxyProviderRequest:
    return ak.ProxyProviderRequest(
        name=name, external_host=f"https://{name}.example.com",
        mode=ak.ProxyMode.FORWARD_SINGLE, skip_path_regex="^/api/.*$",
        basic_auth_enabled=False, internal_host_ssl_validation=False,
        authorization_flow=_flow(client, "default-provider-authorization-implicit-consent"),
        invalidation_flow=_flow(client, "default-provider-invalidation-flow"))


async def test_a_provider_application_and_outpost_membership_round_trip(
    sim_authentik: SimulatedAuthentik
) -> None:
    def scenario(client: ak.ApiClient) -> dict[str, Any]:
        providers, core = ak.ProvidersApi(client), ak.CoreApi(client)
        outposts = ak.OutpostsApi(client)
        created = providers.providers_proxy_create(_provider_request(client, "grafana"))
        app = core.core_applications_create(ak.ApplicationRequest(
            name="Grafana", slug="grafana", provider=created.pk, meta_publisher=MARKER))
        embedded = outposts.outposts_instances_list(managed__iexact=EMBEDDED).results[0]
        outposts.outposts_instances_partial_update(
            str(embedded.pk), ak.PatchedOutpostRequest(providers=[*embedded.providers,
                                                                  created.pk]))
        providers.providers_proxy_partial_update(created.pk, ak.PatchedProxyProviderRequest(
            mode=ak.ProxyMode.FORWARD_SINGLE, external_host="https://grafana.example.org"))
        found = providers.providers_proxy_list(name__iexact="GRAFANA")
        return {
            "found": [(p.pk, p.external_host, p.assigned_application_slug, p.outpost_set)
                      for p in found.results],
            "app": core.core_applications_retrieve("grafana").provider_obj.name,
            "ours": [a.slug for a in core.core_applications_list(
                meta_publisher=MARKER).results],
            "app_pk": str(app.pk),
            "all": [p.name for p in providers.providers_all_list().results],
            "me": core.core_users_me_retrieve().user.username,
            "version": ak.AdminApi(client).admin_version_retrieve().version_current,
        }

    seen = await _in_thread(sim_authentik, scenario)
    pk = sim_authentik.provider("grafana")["pk"]
    assert seen["found"] == [(pk, "https://grafana.example.org", "grafana",
                              ["authentik Embedded Outpost"])]
    assert seen["app"] == "grafana"
    assert seen["ours"] == ["grafana"]
    assert seen["app_pk"] == sim_authentik.application("grafana")["pk"]
    assert seen["all"] == ["grafana"]
    assert (seen["me"], seen["version"]) == ("gitops-lifecycle", "2026.8.5")


async def test_deleting_through_the_client_answers_204(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.create_provider("gone", "https://gone.example.com")
    sim_authentik.create_application("gone", provider="gone")

    def scenario(client: ak.ApiClient) -> None:
        pk = ak.ProvidersApi(client).providers_proxy_list(name__iexact="gone").results[0].pk
        ak.CoreApi(client).core_applications_destroy("gone")
        ak.ProvidersApi(client).providers_proxy_destroy(pk)

    await _in_thread(sim_authentik, scenario)
    assert (sim_authentik.providers(), sim_authentik.applications()) == ([], [])


async def test_paging_with_the_client_ends_when_next_is_zero(
    sim_authentik: SimulatedAuthentik
) -> None:
    for i in range(130):
        sim_authentik.create_provider(f"p{i:03}", f"https://p{i}.example.com")

    def scenario(client: ak.ApiClient) -> list[int]:
        sizes, page = [], 1
        while page:
            listed = ak.ProvidersApi(client).providers_proxy_list(page=page, page_size=500)
            sizes.append(len(listed.results))
            page = int(listed.pagination.next)
        return sizes

    assert await _in_thread(sim_authentik, scenario) == [100, 30]


async def test_a_patch_without_mode_raises_a_400_that_names_internal_host(
    sim_authentik: SimulatedAuthentik
) -> None:
    pk = sim_authentik.create_provider("a", "https://a.example.com")["pk"]

    def scenario(client: ak.ApiClient) -> None:
        ak.ProvidersApi(client).providers_proxy_partial_update(
            pk, ak.PatchedProxyProviderRequest(external_host="https://b.example.com"))

    with pytest.raises(ak.ApiException) as caught:
        await _in_thread(sim_authentik, scenario)
    assert caught.value.status == 400
    assert "internal_host" in (caught.value.body or "")


async def test_a_revoked_token_raises_forbidden(sim_authentik: SimulatedAuthentik) -> None:
    sim_authentik.faults.revoke_token(sim_authentik.token)

    def scenario(client: ak.ApiClient) -> None:
        ak.CoreApi(client).core_users_me_retrieve()

    with pytest.raises(ForbiddenException) as caught:
        await _in_thread(sim_authentik, scenario)
    assert caught.value.status == 403


def _properties(model: type[Any]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


async def test_every_answer_carries_exactly_the_fields_of_the_published_response_models(
    sim_authentik: SimulatedAuthentik
) -> None:
    provider = sim_authentik.create_provider("a", "https://a.example.com")
    sim_authentik.create_other_provider("b")
    sim_authentik.create_application("a", provider="a")
    sim_authentik.set_outpost_providers(["a"])
    outpost = sim_authentik.outpost()
    answers = {
        f"/providers/proxy/{provider['pk']}/": ak.ProxyProvider,
        "/providers/all/": ak.PaginatedProviderList,
        "/core/applications/a/": ak.Application,
        f"/outposts/instances/{outpost['pk']}/": ak.Outpost,
        "/flows/instances/default-provider-invalidation-flow/": ak.Flow,
        "/core/users/me/": ak.SessionUser,
        "/admin/version/": ak.Version,
        "/providers/proxy/": ak.PaginatedProxyProviderList,
        "/core/applications/": ak.PaginatedApplicationList,
        "/outposts/instances/": ak.PaginatedOutpostList,
        "/flows/instances/": ak.PaginatedFlowList,
    }
    nested = {"pagination": ak.Pagination, "user": ak.UserSelf, "provider_obj": ak.Provider}
    mismatches: dict[str, list[str]] = {}
    async with session(sim_authentik) as http:
        for path, model in answers.items():
            status, document = await call(http, "GET", f"/api/v3{path}")
            assert status == 200, path
            model.from_dict(document)
            # `original` is sent only while impersonating (required=False in the serializer).
            problems = sorted((_properties(model) ^ set(document)) - {"original"})
            for key, inner in nested.items():
                if isinstance(document.get(key), dict):
                    problems += sorted(_properties(inner) ^ set(document[key]))
            if "results" in document:
                item_model = model.model_fields["results"].annotation.__args__[0]
                for item in document["results"]:
                    problems += sorted(_properties(item_model) ^ set(item))
            if problems:
                mismatches[path] = problems
    assert mismatches == {}
