"""The causes of a 422, built as k8s.io/apimachinery `pkg/util/validation/field` builds them."""

from __future__ import annotations

import json
from typing import Any

from gitops_lifecycle.simulation.kubeapi.errors import cause

Cause = dict[str, str]


def invalid(path: str, value: Any, message: str) -> Cause:
    """`field.Invalid`."""
    shown = json.dumps(value) if isinstance(value, str) else _go(value)
    return cause("FieldValueInvalid", f"Invalid value: {shown}: {message}", path)


def required(path: str, detail: str = "") -> Cause:
    """`field.Required`."""
    return cause("FieldValueRequired", f"Required value: {detail}" if detail else
                 "Required value", path)


def forbidden(path: str, detail: str) -> Cause:
    """`field.Forbidden`."""
    return cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def unsupported(path: str, value: Any, allowed: list[str]) -> Cause:
    """`field.NotSupported`."""
    return cause("FieldValueNotSupported", f"Unsupported value: {json.dumps(value)}: supported "
                 "values: " + ", ".join(json.dumps(a) for a in allowed), path)


def _go(value: Any) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}:{_go(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{inner}}}"
    return json.dumps(value)
