"""What Authentik should hold for a ProxyConfig, and the smallest PATCH that gets it there.

Compared field by field: a string that Authentik reports as null equals an empty one, booleans
are sent explicitly (an unset `false` is written once, then equal), lists compare as sets.
An unchanged ProxyConfig gives an empty patch: no write, so no login in progress is broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_lifecycle.authentik.models import Application, Provider
from gitops_lifecycle.discovery.spec import ProxySpec


@dataclass(frozen=True, slots=True)
class Defaults:
    """The global settings a ProxyConfig may override, flows already resolved to pks."""

    authorization_flow: str
    invalidation_flow: str
    cookie_domain: str = ""


def provider_body(spec: ProxySpec, defaults: Defaults) -> dict[str, Any]:
    """Every provider field we manage, as a create body."""
    body: dict[str, Any] = {
        "name": spec.provider_name,
        "authorization_flow": defaults.authorization_flow,
        "invalidation_flow": defaults.invalidation_flow,
        "external_host": spec.external_host,
        "internal_host": spec.internal_host,
        "internal_host_ssl_validation": spec.internal_host_ssl_validation,
        "skip_path_regex": spec.skip_path_regex,
        "basic_auth_enabled": spec.basic_auth_enabled,
        "mode": spec.mode,
        "cookie_domain": spec.cookie_domain if spec.cookie_domain is not None
        else defaults.cookie_domain,
    }
    if spec.basic_auth_enabled:
        body["basic_auth_user_attribute"] = spec.basic_auth_user_attribute
        body["basic_auth_password_attribute"] = spec.basic_auth_password_attribute
    return body


def application_body(spec: ProxySpec, *, provider: int | None, marker: str) -> dict[str, Any]:
    """Every application field we manage, as a create body."""
    return {
        "name": spec.application_name,
        "slug": spec.application_slug,
        "provider": provider,
        "meta_publisher": marker,
        "meta_launch_url": spec.launch_url,
        "group": spec.application_group,
    }


def same(desired: Any, actual: Any) -> bool:
    """Whether a field already holds what we want."""
    if isinstance(desired, bool) or desired is None:
        return actual is desired
    if isinstance(desired, str):
        text = "" if actual is None else str(actual)
        return text.replace("\r\n", "\n") == desired.replace("\r\n", "\n")
    if isinstance(desired, list | tuple | set | frozenset):
        return isinstance(actual, list | tuple | set | frozenset) and set(desired) == set(actual)
    return bool(desired == actual)


def _changes(desired: dict[str, Any], actual: Any) -> dict[str, Any]:
    return {key: value for key, value in desired.items()
            if not same(value, getattr(actual, key, None))}


def provider_patch(desired: dict[str, Any], actual: Provider) -> dict[str, Any]:
    """The fields of `actual` that differ, plus `mode` (which every PATCH must carry)."""
    changes = _changes(desired, actual)
    if not changes:
        return {}
    changes["mode"] = desired["mode"]
    return changes


def application_patch(desired: dict[str, Any], actual: Application) -> dict[str, Any]:
    """The fields of `actual` that differ (the slug addresses it and is not patched)."""
    wanted = {key: value for key, value in desired.items() if key != "slug"}
    return _changes(wanted, actual)
