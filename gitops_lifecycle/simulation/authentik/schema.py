"""Request bodies checked against the official generated models of `authentik-client`.

The package is a test dependency (importing it takes seconds): tests always validate with it,
so neither our client nor this simulator can drift from Authentik's published schema; the demo
runs without it. Its errors are translated into the field messages Django REST framework sends.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from gitops_lifecycle.simulation.authentik.errors import NOT_BLANK, NOT_NULL, FieldErrors

SchemaMode = Literal["auto", "on", "off"]

# Request model per (endpoint, method): the names in authentik_client.models.
MODELS = {
    ("proxy", "POST"): "ProxyProviderRequest",
    ("proxy", "PUT"): "ProxyProviderRequest",
    ("proxy", "PATCH"): "PatchedProxyProviderRequest",
    ("applications", "POST"): "ApplicationRequest",
    ("applications", "PUT"): "ApplicationRequest",
    ("applications", "PATCH"): "PatchedApplicationRequest",
    ("outposts", "POST"): "OutpostRequest",
    ("outposts", "PUT"): "OutpostRequest",
    ("outposts", "PATCH"): "PatchedOutpostRequest",
}

_MESSAGES = {
    "uuid_parsing": "Must be a valid UUID.",
    "uuid_type": "Must be a valid UUID.",
    "string_type": "Not a valid string.",
    "bool_type": "Must be a valid boolean.",
    "int_type": "A valid integer is required.",
    "int_parsing": "A valid integer is required.",
    "int_from_float": "A valid integer is required.",
    "string_too_short": NOT_BLANK,
    "dict_type": "Expected a dictionary of items.",
    "list_type": "Expected a list of items.",
    "value_error": "Invalid value.",
}


@functools.cache
def _module() -> Any | None:
    try:
        return importlib.import_module("authentik_client.models")
    except ImportError:
        return None


def available() -> bool:
    """Whether `authentik-client` can be imported here."""
    return _module() is not None


def resolve(mode: SchemaMode) -> bool:
    """Whether to validate: `auto` when the package is importable, `on` requires it."""
    if mode == "off":
        return False
    if mode == "on" and not available():
        raise RuntimeError("schema validation needs the package authentik-client "
                           "(pip install 'gitops-lifecycle-management[test]')")
    return available()


def model(endpoint: str, method: str) -> type[BaseModel]:
    """The official request model for a write (the package must be importable)."""
    module = _module()
    assert module is not None
    found: type[BaseModel] = getattr(module, MODELS[(endpoint, method)])
    return found


def check(endpoint: str, method: str, body: dict[str, Any]) -> FieldErrors:
    """The schema's complaints about `body`, by field, as DRF words them (empty if none).

    Only the fields the body carries or the schema requires are looked at: like DRF, the
    models ignore fields they do not know.
    """
    request_model = model(endpoint, method)
    try:
        request_model.from_dict(body)  # type: ignore[attr-defined]
    except ValidationError as exc:
        return _field_errors(exc, body)
    return {}


def _field_errors(exc: ValidationError, body: dict[str, Any]) -> FieldErrors:
    errors: FieldErrors = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "non_field_errors"
        if name not in body:
            message = "This field is required."
        elif body[name] is None:
            message = NOT_NULL
        elif error["type"] in ("enum", "literal_error"):
            message = f'"{body[name]}" is not a valid choice.'
        else:
            message = _MESSAGES.get(error["type"], error["msg"])
        messages = errors.setdefault(name, [])
        if message not in messages:
            messages.append(message)
    return errors
