"""Writes to proxy providers, with `ProxyProviderSerializer`'s rules.

The rule clients trip over: `validate()` reads `mode` from the request, defaulting to
`proxy`, and then requires `internal_host` in the same request. A PATCH that changes only
`external_host` of a forward-auth provider is therefore refused with
`{"internal_host": ["Internal host cannot be empty when forward auth is disabled."]}`,
whatever mode is stored: a PATCH must always carry `mode`.
"""

from __future__ import annotations

import secrets
import string
from typing import Any
from urllib.parse import urljoin

from gitops_lifecycle.simulation.authentik import fields
from gitops_lifecycle.simulation.authentik.errors import (
    NOT_NULL,
    FieldErrors,
    invalid,
    missing_pk,
    taken,
)
from gitops_lifecycle.simulation.authentik.state import Obj, State

MODES = ("proxy", "forward_single", "forward_domain")
REQUIRED = ("name", "authorization_flow", "invalidation_flow", "external_host")
INTERNAL_HOST_NEEDED = "Internal host cannot be empty when forward auth is disabled."
BASIC_AUTH_NEEDS = "User and password attributes must be set when basic auth is enabled."
DEFAULTS: dict[str, Any] = {
    "authentication_flow": None, "property_mappings": [], "internal_host": "",
    "internal_host_ssl_validation": True, "certificate": None, "skip_path_regex": "",
    "basic_auth_enabled": False, "basic_auth_password_attribute": "",
    "basic_auth_user_attribute": "", "mode": "proxy", "intercept_header_auth": True,
    "cookie_domain": "", "jwt_federation_sources": [], "jwt_federation_providers": [],
    "access_token_validity": "hours=24", "refresh_token_validity": "days=30",
}
WRITABLE = ("name", "authorization_flow", "invalidation_flow", "external_host", *DEFAULTS)
_CHECKS: dict[str, fields.Check] = {
    "name": fields.text(blank=False),
    "external_host": fields.url(blank=False),
    "internal_host": fields.url(blank=True),
    "internal_host_ssl_validation": fields.boolean,
    "skip_path_regex": fields.text(),
    "basic_auth_enabled": fields.boolean,
    "basic_auth_password_attribute": fields.text(),
    "basic_auth_user_attribute": fields.text(),
    "mode": fields.choice(*MODES),
    "intercept_header_auth": fields.boolean,
    "cookie_domain": fields.text(),
    "access_token_validity": fields.text(blank=False),
    "refresh_token_validity": fields.text(blank=False),
}
TRIMMED = ("name", "external_host", "internal_host", "skip_path_regex",
           "basic_auth_password_attribute", "basic_auth_user_attribute", "cookie_domain",
           "access_token_validity", "refresh_token_validity")
"""Text fields the serializer strips of surrounding whitespace."""
_CALLBACK = "X-authentik-auth-callback=true"


def create(state: State, body: dict[str, Any], errors: FieldErrors | None = None, *,
           type_: str = "proxy") -> Obj:
    """POST: a new provider with the model's defaults for what the body leaves out."""
    validated = _validate(state, body, current=None, partial=False, errors=errors)
    pk = state.take_provider_pk()
    stored: Obj = {"pk": pk, "type": type_, **DEFAULTS, **validated,
                   "client_id": _random(40), "cookie_secret": _random(32)}
    _set_oauth_defaults(state, stored)
    state.providers[pk] = stored
    state.touch()
    return stored


def update(state: State, current: Obj, body: dict[str, Any], *, partial: bool,
           errors: FieldErrors | None = None) -> Obj:
    """PUT (`partial=False`) or PATCH: fields the body leaves out keep their values."""
    validated = _validate(state, body, current=current, partial=partial, errors=errors)
    current.update(validated)
    _set_oauth_defaults(state, current)
    state.touch()
    return current


def delete(state: State, pk: int) -> None:
    """Remove a provider: its application loses the link, outposts lose the member."""
    app = state.application_of(pk)
    state.providers.pop(pk)
    if app is not None:
        app["provider"] = None
    for outpost in state.outposts_with(pk):
        outpost["providers"].remove(pk)
    state.touch()


def _validate(state: State, body: dict[str, Any], *, current: Obj | None, partial: bool,
              errors: FieldErrors | None) -> dict[str, Any]:
    errors = dict(errors or {})
    body = fields.trimmed(body, TRIMMED)
    if not partial:
        fields.required(body, REQUIRED, errors)
    fields.collect(body, _CHECKS, errors)
    _check_name(state, body, current, errors)
    _check_flows(state, body, errors)
    _check_mappings(state, body, errors)
    if body.get("basic_auth_enabled") is True and "basic_auth_enabled" not in errors and (
            not body.get("basic_auth_password_attribute")
            or not body.get("basic_auth_user_attribute")):
        errors["basic_auth_enabled"] = [BASIC_AUTH_NEEDS]
    if errors:
        raise invalid(errors)
    validated = {name: body[name] for name in WRITABLE if name in body}
    # Object-level: the mode of *this request*, `proxy` when it carries none.
    if validated.get("mode", "proxy") == "proxy" and validated.get("internal_host", "") == "":
        raise invalid({"internal_host": [INTERNAL_HOST_NEEDED]})
    return validated


def _check_name(state: State, body: dict[str, Any], current: Obj | None,
                errors: FieldErrors) -> None:
    if "name" in errors or "name" not in body:
        return
    other = state.provider_named(body["name"])
    if other is not None and other is not current:
        errors["name"] = [taken("provider", "name")]


def _check_flows(state: State, body: dict[str, Any], errors: FieldErrors) -> None:
    for name in ("authorization_flow", "invalidation_flow", "authentication_flow"):
        if name not in body or name in errors:
            continue
        value = body[name]
        if value is None:
            if name != "authentication_flow":
                errors[name] = [NOT_NULL]
        elif not fields.is_uuid(value) or str(value) not in state.flows:
            errors[name] = [missing_pk(value)]


def _check_mappings(state: State, body: dict[str, Any], errors: FieldErrors) -> None:
    mappings = body.get("property_mappings")
    if mappings is None or "property_mappings" in errors:
        return
    if not isinstance(mappings, list):
        errors["property_mappings"] = ["Expected a list of items."]
        return
    unknown = [m for m in mappings if not fields.is_uuid(m) or m not in state.scope_mappings]
    if unknown:
        errors["property_mappings"] = [missing_pk(unknown[0])]


def _set_oauth_defaults(state: State, provider: Obj) -> None:
    """What `ProxyProvider.set_oauth_defaults` does on every save: the managed scope
    mappings are added back and the redirect URIs follow `external_host`."""
    mappings = list(provider.get("property_mappings") or [])
    mappings += [pk for pk in state.scope_mappings if pk not in mappings]
    provider["property_mappings"] = mappings
    host = provider["external_host"]
    provider["redirect_uris"] = [
        {"matching_mode": "strict",
         "url": f"{urljoin(host, 'outpost.goauthentik.io/callback')}?{_CALLBACK}"},
        {"matching_mode": "strict", "url": f"{host}?{_CALLBACK}"},
    ]


def _random(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
