"""Desired Authentik state and the smallest PATCH: no write when nothing changed."""

from __future__ import annotations

from typing import Any

import msgspec

from gitops_lifecycle.authentik.models import Application, Provider
from gitops_lifecycle.discovery.desired import (
    Defaults,
    application_body,
    application_patch,
    provider_body,
    provider_patch,
    same,
)
from gitops_lifecycle.discovery.spec import ProxySpec, parse

DEFAULTS = Defaults(authorization_flow="auth-pk", invalidation_flow="inv-pk")


def _spec(**config: Any) -> ProxySpec:
    parsed = parse({"serviceName": "app", "externalHost": "https://app.example.com",
                    "authentikConfig": {"providerName": "App", **config}}, "ns")
    assert isinstance(parsed, ProxySpec)
    return parsed


def _provider(body: dict[str, Any], **changes: Any) -> Provider:
    return msgspec.convert({"pk": 7, **body, **changes}, Provider)


def test_unchanged_provider_needs_no_patch() -> None:
    body = provider_body(_spec(), DEFAULTS)
    assert provider_patch(body, _provider(body)) == {}


def test_drifted_field_patched_alone_with_mode() -> None:
    body = provider_body(_spec(), DEFAULTS)
    patch = provider_patch(body, _provider(body, external_host="https://hand.example.com"))
    assert patch == {"external_host": "https://app.example.com", "mode": "forward_single"}


def test_explicit_false_is_sent_once_then_equal() -> None:
    body = provider_body(_spec(), DEFAULTS)
    assert body["basic_auth_enabled"] is False
    unset = _provider(body, basic_auth_enabled=None)
    assert provider_patch(body, unset) == {"basic_auth_enabled": False, "mode": "forward_single"}


def test_null_string_equals_empty() -> None:
    body = provider_body(_spec(), DEFAULTS)
    assert body["cookie_domain"] == ""
    assert provider_patch(body, _provider(body, cookie_domain=None)) == {}


def test_lists_compare_as_sets() -> None:
    assert same([1, 2, 3], [3, 1, 2])
    assert not same([1, 2], [1, 2, 3])
    assert not same([1], None)


def test_override_flows_and_cookie_domain() -> None:
    body = provider_body(_spec(cookieDomain="example.com"), Defaults("a", "i", "other.com"))
    assert body["cookie_domain"] == "example.com"
    assert provider_body(_spec(), Defaults("a", "i", "other.com"))["cookie_domain"] == "other.com"


def test_application_patch_ignores_the_slug() -> None:
    body = application_body(_spec(), provider=7, marker="m")
    app = msgspec.convert({"pk": "u", **body}, Application)
    assert application_patch(body, app) == {}
    moved = msgspec.convert({"pk": "u", **body, "provider": 8, "meta_publisher": ""}, Application)
    assert application_patch(body, moved) == {"provider": 7, "meta_publisher": "m"}
