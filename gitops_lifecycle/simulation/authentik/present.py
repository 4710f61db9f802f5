"""Objects as the API answers them: stored fields plus the read-only ones Authentik adds."""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.authentik.state import Obj, State

# What `verbose_name`, `component` and `meta_model_name` say for each provider type.
PROVIDER_TYPES = {
    "proxy": ("Proxy Provider", "ak-provider-proxy-form", "authentik_providers_proxy",
              "proxyprovider"),
    "oauth2": ("OAuth2/OpenID Provider", "ak-provider-oauth2-form", "authentik_providers_oauth2",
               "oauth2provider"),
    "saml": ("SAML Provider", "ak-provider-saml-form", "authentik_providers_saml",
             "samlprovider"),
    "ldap": ("LDAP Provider", "ak-provider-ldap-form", "authentik_providers_ldap",
             "ldapprovider"),
}
_PROVIDER_BASE = ("pk", "name", "authentication_flow", "authorization_flow",
                  "invalidation_flow", "property_mappings")
_INTERNAL = ("type", "cookie_secret")


def provider(state: State, stored: Obj) -> dict[str, Any]:
    """A provider as `/providers/all/` and `providers_obj` show it (the base serializer)."""
    verbose, component, app_label, model = PROVIDER_TYPES[stored["type"]]
    app = state.application_of(stored["pk"])
    shown = {key: stored.get(key) for key in _PROVIDER_BASE}
    shown["property_mappings"] = list(stored.get("property_mappings") or [])
    shown.update(
        component=component,
        assigned_application_slug=app["slug"] if app else None,
        assigned_application_name=app["name"] if app else None,
        assigned_backchannel_application_slug=None,
        assigned_backchannel_application_name=None,
        verbose_name=verbose, verbose_name_plural=f"{verbose}s",
        meta_model_name=f"{app_label}.{model}",
    )
    return shown


def proxy_provider(state: State, stored: Obj) -> dict[str, Any]:
    """A proxy provider as `/providers/proxy/` shows it."""
    shown = {key: value for key, value in stored.items()
             if key not in _INTERNAL and not key.startswith("_")}
    shown.update(provider(state, stored))
    shown["redirect_uris"] = [dict(uri) for uri in stored["redirect_uris"]]
    shown["outpost_set"] = [o["name"] for o in state.outposts_with(stored["pk"])]
    return shown


def application(state: State, stored: Obj) -> dict[str, Any]:
    """An application as `/core/applications/` shows it."""
    linked = state.providers.get(stored["provider"]) if stored["provider"] is not None else None
    launch = stored["meta_launch_url"] or (linked or {}).get("external_host") or None
    return {
        **stored,
        "pbm_uuid": stored["pk"],
        "provider_obj": provider(state, linked) if linked else None,
        "backchannel_providers": [],
        "backchannel_providers_obj": [],
        "launch_url": launch,
        "meta_icon_url": None,
        "meta_icon_themed_urls": None,
    }


def outpost(state: State, stored: Obj) -> dict[str, Any]:
    """An outpost as `/outposts/instances/` shows it."""
    return {
        **stored,
        "providers": list(stored["providers"]),
        "providers_obj": [provider(state, state.providers[pk]) for pk in stored["providers"]],
        "service_connection_obj": None,
        "refresh_interval_s": 300,
        "token_identifier": f"ak-outpost-{stored['pk']}-api",
        "config": dict(stored["config"]),
    }


def flow(_: State, stored: Obj) -> dict[str, Any]:
    """A flow as `/flows/instances/` shows it."""
    return {
        **stored,
        "background": None,
        "background_url": "/static/dist/assets/images/flow_background.jpg",
        "background_themed_urls": None,
        "stages": [],
        "policies": [],
        "cache_count": 0,
        "policy_engine_mode": "any",
        "compatibility_mode": False,
        "export_url": f"/api/v3/flows/instances/{stored['slug']}/export/",
        "layout": "stacked",
        "denied_action": "message_continue",
        "authentication": "none",
    }
