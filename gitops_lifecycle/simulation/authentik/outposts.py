"""Writes to outposts, with `OutpostSerializer`'s rules.

`providers` is a many-to-many field: a PATCH that carries it replaces the whole list (there is
no add or remove, and no ETag), so two writers that each read, add and write lose one
another's change. Only the embedded outpost may have an empty list; its name is fixed.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.authentik import fields
from gitops_lifecycle.simulation.authentik.errors import FieldErrors, invalid, missing_pk, taken
from gitops_lifecycle.simulation.authentik.state import EMBEDDED_OUTPOST, Obj, State

TYPES = ("proxy", "ldap", "radius", "rac")
REQUIRED = ("name", "type", "providers", "config")
WRITABLE = ("name", "type", "providers", "service_connection", "config", "managed")
_CHECKS: dict[str, fields.Check] = {
    "name": fields.text(blank=False),
    "type": fields.choice(*TYPES),
    "managed": fields.text(null=True),
}
_CLASS_NAMES = {"proxy": "ProxyProvider", "oauth2": "OAuth2Provider", "saml": "SAMLProvider",
                "ldap": "LDAPProvider", "radius": "RadiusProvider", "rac": "RACProvider"}


def create(state: State, body: dict[str, Any], errors: FieldErrors | None = None) -> Obj:
    """POST: a new outpost."""
    validated = _validate(state, body, current=None, partial=False, errors=errors)
    outpost = state.add_outpost(validated["name"], type_=validated["type"])
    outpost.update(validated)
    return outpost


def update(state: State, current: Obj, body: dict[str, Any], *, partial: bool,
           errors: FieldErrors | None = None) -> Obj:
    """PUT (`partial=False`) or PATCH; `providers`, when given, replaces the list."""
    current.update(_validate(state, body, current=current, partial=partial, errors=errors))
    return current


def delete(state: State, current: Obj) -> None:
    """Remove an outpost."""
    state.outposts.pop(current["pk"])


def _validate(state: State, body: dict[str, Any], *, current: Obj | None, partial: bool,
              errors: FieldErrors | None) -> dict[str, Any]:
    errors = dict(errors or {})
    if not partial:
        fields.required(body, REQUIRED, errors)
    fields.collect(body, _CHECKS, errors)
    _check_name(state, body, current, errors)
    if "providers" in body:
        _check_providers(state, body, current, errors)
    if "config" in body and not isinstance(body["config"], dict):
        errors["config"] = ["Expected a dictionary of items."]
    if errors:
        raise invalid(errors)
    validated = {name: body[name] for name in WRITABLE if name in body}
    if "providers" in validated:
        validated["providers"] = sorted(set(validated["providers"]))
    return validated


def _check_name(state: State, body: dict[str, Any], current: Obj | None,
                errors: FieldErrors) -> None:
    if "name" not in body or "name" in errors:
        return
    if current is not None and current.get("managed") == EMBEDDED_OUTPOST \
            and body["name"] != current["name"]:
        errors["name"] = ["Embedded outpost's name cannot be changed"]
        return
    other = next((o for o in state.outposts.values() if o["name"] == body["name"]), None)
    if other is not None and other is not current:
        errors["name"] = [taken("outpost", "name")]


def _check_providers(state: State, body: dict[str, Any], current: Obj | None,
                     errors: FieldErrors) -> None:
    pks = body["providers"]
    if not isinstance(pks, list):
        errors["providers"] = [f'Expected a list of items but got type "{type(pks).__name__}".']
        return
    for pk in pks:
        if isinstance(pk, bool) or not isinstance(pk, int) or pk not in state.providers:
            errors["providers"] = [missing_pk(pk)]
            return
    # The type is checked only when the request names one, as the real serializer does.
    wanted = body.get("type")
    for pk in pks:
        kind = state.providers[pk]["type"]
        if wanted in TYPES and kind != wanted:
            errors["providers"] = [(f"Outpost type {wanted} can't be used with "
                                    f"{_CLASS_NAMES.get(kind, kind)} providers.")]
            return
    embedded = current is not None and current.get("managed") == EMBEDDED_OUTPOST
    if not pks and not embedded:
        errors["providers"] = ["This list may not be empty."]
