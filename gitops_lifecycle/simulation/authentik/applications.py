"""Writes to applications, with `ApplicationSerializer`'s rules.

An application links at most one provider and a provider belongs to at most one application
(a one-to-one field): linking a provider that another application holds is a 400 on
`provider`. Deleting an application leaves its provider alone.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.authentik import fields
from gitops_lifecycle.simulation.authentik.errors import FieldErrors, invalid, missing_pk, taken
from gitops_lifecycle.simulation.authentik.state import Obj, State, new_uuid

REQUIRED = ("name", "slug")
DEFAULTS: dict[str, Any] = {
    "provider": None, "open_in_new_tab": False, "meta_launch_url": "", "meta_icon": None,
    "meta_description": "", "meta_publisher": "", "policy_engine_mode": "any", "group": "",
    "meta_hide": False,
}
WRITABLE = ("name", "slug", *DEFAULTS)
TRIMMED = ("name", "slug", "meta_launch_url", "meta_description", "meta_publisher", "group")
"""Text fields the serializer strips of surrounding whitespace."""
_CHECKS: dict[str, fields.Check] = {
    "name": fields.text(blank=False),
    "slug": fields.slug,
    "open_in_new_tab": fields.boolean,
    "meta_launch_url": fields.text(),
    "meta_icon": fields.text(null=True),
    "meta_description": fields.text(),
    "meta_publisher": fields.text(),
    "policy_engine_mode": fields.choice("all", "any"),
    "group": fields.text(),
    "meta_hide": fields.boolean,
}


def create(state: State, body: dict[str, Any], errors: FieldErrors | None = None) -> Obj:
    """POST: a new application; its pk is a new UUID, its URL uses the slug."""
    validated = _validate(state, body, current=None, partial=False, errors=errors)
    pk = new_uuid()
    stored: Obj = {"pk": pk, **DEFAULTS, **validated}
    state.applications[pk] = stored
    state.touch()
    return stored


def update(state: State, current: Obj, body: dict[str, Any], *, partial: bool,
           errors: FieldErrors | None = None) -> Obj:
    """PUT (`partial=False`) or PATCH."""
    current.update(_validate(state, body, current=current, partial=partial, errors=errors))
    state.touch()
    return current


def delete(state: State, current: Obj) -> None:
    """Remove an application; its provider stays."""
    state.applications.pop(current["pk"])
    state.touch()


def _validate(state: State, body: dict[str, Any], *, current: Obj | None, partial: bool,
              errors: FieldErrors | None) -> dict[str, Any]:
    errors = dict(errors or {})
    body = fields.trimmed(body, TRIMMED)
    if not partial:
        fields.required(body, REQUIRED, errors)
    fields.collect(body, _CHECKS, errors)
    if "slug" in body and "slug" not in errors:
        other = state.application_by_slug(body["slug"])
        if other is not None and other is not current:
            errors["slug"] = [taken("application", "slug")]
    _check_provider(state, body, current, errors)
    if errors:
        raise invalid(errors)
    return {name: body[name] for name in WRITABLE if name in body}


def _check_provider(state: State, body: dict[str, Any], current: Obj | None,
                    errors: FieldErrors) -> None:
    if "provider" not in body or body["provider"] is None:
        return
    pk = body["provider"]
    if isinstance(pk, bool) or not isinstance(pk, int):
        errors["provider"] = [f"Incorrect type. Expected pk value, received {type(pk).__name__}."]
    elif pk not in state.providers:
        errors["provider"] = [missing_pk(pk)]
    else:
        holder = state.application_of(pk)
        if holder is not None and holder is not current:
            errors["provider"] = [taken("application", "provider")]
