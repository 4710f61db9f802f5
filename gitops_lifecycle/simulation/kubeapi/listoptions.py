"""The query options of LIST and WATCH, checked as apimachinery's `ValidateListOptions` does.

A bad combination is a 422 `ListOptions.meta.k8s.io "" is invalid: ...` naming the field.
"""

from __future__ import annotations

from typing import Any

from gitops_lifecycle.simulation.kubeapi import errors

EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"


def _forbidden(field: str, detail: str) -> dict[str, str]:
    return errors.cause("FieldValueForbidden", f"Forbidden: {detail}", field)


def _unsupported(field: str, value: str, allowed: list[str]) -> dict[str, str]:
    shown = ", ".join(f'"{a}"' for a in allowed)
    return errors.cause("FieldValueNotSupported",
                        f'Unsupported value: "{value}": supported values: {shown}', field)


def send_initial_events(query: Any) -> bool | None:
    """`sendInitialEvents`: True, False or not given."""
    value = query.get("sendInitialEvents")
    if value in (None, ""):
        return None
    return str(value).lower() in ("1", "true")


def check(query: Any, *, watch: bool) -> None:
    """422 for options the real server refuses."""
    causes = _watch_causes(query) if watch else _list_causes(query)
    if causes:
        raise errors.invalid_causes("ListOptions", "meta.k8s.io", "", causes)


def _watch_causes(query: Any) -> list[dict[str, str]]:
    """validateWatchOptions."""
    match = query.get("resourceVersionMatch") or ""
    initial = send_initial_events(query)
    causes = []
    if initial is not None and match != NOT_OLDER_THAN:
        causes.append(_forbidden("resourceVersionMatch", "sendInitialEvents requires setting "
                                 "resourceVersionMatch to NotOlderThan"))
    if not match:
        return causes
    if initial is None:
        causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                 "for watch unless sendInitialEvents is provided"))
    if match != NOT_OLDER_THAN:
        causes.append(_unsupported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
    if query.get("continue"):
        causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                 "when continue is provided"))
    return causes


def _list_causes(query: Any) -> list[dict[str, str]]:
    """ValidateListOptions for a list."""
    match = query.get("resourceVersionMatch") or ""
    version = query.get("resourceVersion") or ""
    causes = []
    if send_initial_events(query) is not None:
        causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if not match:
        return causes
    if not version:
        causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                 "unless resourceVersion is provided"))
    if query.get("continue"):
        causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                 "when continue is provided"))
    if match not in (EXACT, NOT_OLDER_THAN):
        causes.append(_unsupported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""]))
    if match == EXACT and version == "0":
        causes.append(_forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is '
                                 'forbidden for resourceVersion "0"'))
    return causes
