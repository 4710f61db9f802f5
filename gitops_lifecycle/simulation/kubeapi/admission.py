"""What every write goes through before it is stored: decoding, then validation.

Decoding is the schema walk (`schema`); validation is the kind's rules (`validation`).
Warnings (unknown fields under `fieldValidation=Warn`) collect per request and leave as
`Warning: 299 - "..."` headers, as the real server sends them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from gitops_lifecycle.simulation.kubeapi import conversion, defaults, errors, schema, validation
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

FIELD_VALIDATIONS = ("Ignore", "Strict", "Warn")
WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "warnings", default=None)

# A custom resource's schema (`openAPIV3Schema` of its CRD version), if any.
SchemaLookup = Callable[[ResourceType], dict[str, Any] | None]


def warn(message: str) -> None:
    """Add a warning to the current request's response."""
    found = WARNINGS.get()
    if found is not None:
        found.append(message)


def check_field_validation(value: str | None) -> str:
    """The `fieldValidation` directive; 422 for one the server does not know."""
    if value in (None, ""):
        return "Warn"
    assert value is not None
    if value not in FIELD_VALIDATIONS:
        raise errors.invalid_causes("CreateOptions", "meta.k8s.io", "", [errors.cause(
            "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: '
            '"", "Ignore", "Strict", "Warn"', "fieldValidation")])
    return value


def admit(  # noqa: PLR0913 -- what a write carries
    rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *,
    field_validation: str = "Warn", lookup: SchemaLookup | None = None,
    subresource: str | None = None, allocate_ip: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """The object as it will be stored; 400 or 422 if the server would refuse it."""
    body = dict(obj)
    name = (body.get("metadata") or {}).get("name") or ""
    defs: dict[str, Any] | None = None  # the upstream definitions; a CRD's schema has none
    if rt.builtin:
        definition = schema.definition_name(rt.api_version, rt.kind)
        target: dict[str, Any] | None = None if definition is None else {"$ref": definition}
    else:
        target = lookup(rt) if lookup is not None else None
        defs = {}
    if target is not None:
        body, findings = schema.decode(body, target, defs, structural=not rt.builtin)
        if subresource == "status":
            findings.required.clear()
        found: list[str] = []
        schema.raise_for(findings, kind=rt.kind, group=rt.group, version=rt.version,
                         name=name, field_validation=field_validation, warnings=found)
        for message in found:
            warn(message)
    body = conversion.to_storage(rt, body)
    if rt.builtin:
        defaults.apply(rt.group, rt.kind, body, old, allocate_ip=allocate_ip or _no_ip)
    causes = validation.validate(rt, body, old)
    if causes:
        raise errors.invalid_causes(rt.kind, rt.group, name, causes)
    return body


def _no_ip() -> str:
    return "None"
