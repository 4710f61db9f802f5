"""Reading and checking ProxyConfig specs: defaults, and a message for every problem."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_lifecycle.discovery.spec import Invalid, ProxySpec, parse, slugify


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "serviceName": "grafana", "externalHost": "https://grafana.example.com",
        "authentikConfig": {"providerName": "Grafana"},
    }
    config = changes.pop("config", {})
    base["authentikConfig"] = {**base["authentikConfig"], **config}
    base.update(changes)
    return base


def test_defaults_match_the_seed_schema() -> None:
    parsed = parse(spec(), "monitoring")
    assert isinstance(parsed, ProxySpec)
    assert parsed.service_namespace == "monitoring"
    assert parsed.internal_host == "http://grafana.monitoring.svc.cluster.local:80"
    assert parsed.enabled is True
    assert parsed.mode == "forward_single"
    assert parsed.skip_path_regex == "^/api/.*$"
    assert parsed.basic_auth_enabled is False
    assert parsed.internal_host_ssl_validation is False
    assert parsed.adopt is False
    assert parsed.application_slug == "grafana"
    assert parsed.application_name == "Grafana"
    assert parsed.deletion_policy == "Delete"


def test_internal_host_as_host_name_or_url() -> None:
    by_name = parse(spec(internalHost="grafana.internal", port=3000, protocol="https"), "ns")
    assert isinstance(by_name, ProxySpec)
    assert by_name.internal_host == "https://grafana.internal:3000"
    by_url = parse(spec(internalHost="http://10.0.0.7:3000"), "ns")
    assert isinstance(by_url, ProxySpec)
    assert by_url.internal_host == "http://10.0.0.7:3000"


@pytest.mark.parametrize(("changes", "message"), [
    ({"externalHost": "grafana.example.com"}, "spec.externalHost 'grafana.example.com' must start"),
    ({"externalHost": "https://exa mple.com"}, "must not contain spaces"),
    ({"externalHost": "https://bad_host!/"}, "has no valid host"),
    ({"externalHost": "https://user:pw@example.com"}, "must not carry credentials"),
    ({"externalHost": None}, "spec.externalHost is required"),
    ({"serviceName": "Grafana"}, "is not a valid Service name"),
    ({"port": 0}, "spec.port must be a number from 1 to 65535"),
    ({"port": True}, "spec.port must be a number"),
    ({"protocol": "ftp"}, "spec.protocol must be one of http, https"),
    ({"internalHost": "not a host"}, "spec.internalHost 'not a host' is not a host name"),
    ({"deletionPolicy": "Orphan"}, "spec.deletionPolicy must be one of Delete, Retain"),
    ({"config": {"providerName": ""}}, "spec.authentikConfig.providerName is required"),
    ({"config": {"providerName": "   "}}, "providerName is blank"),
    ({"config": {"mode": "forward"}}, "spec.authentikConfig.mode must be one of"),
    ({"config": {"skipPathRegex": "^/api/(.*$"}}, "skipPathRegex: line 1 does not compile"),
    ({"config": {"skipPathRegex": "^/ok$\n^/(?!x).*$"}}, "line 2 uses look-around"),
    ({"config": {"basicAuthEnabled": True}}, "basicAuthEnabled needs basicAuthUserAttribute"),
    ({"config": {"enabled": "yes"}}, "spec.authentikConfig.enabled must be true or false"),
    ({"config": {"providerName": "!!!"}}, "applicationSlug '' must be letters"),
    ({"config": {"applicationSlug": "a b"}}, "applicationSlug 'a b' must be letters"),
    ({"config": {"launchUrl": "javascript:alert(1)"}}, "launchUrl 'javascript:alert(1)' must"),
    ({"config": {"authorizationFlow": "a/b"}}, "authorizationFlow 'a/b' is not a flow slug"),
    ({"config": {"cookieDomain": "exa mple"}}, "cookieDomain 'exa mple' is not a domain"),
    ({"labels": {"a": 1}}, "spec.labels must map strings to strings"),
    ({"authentikConfig": "x"}, "spec.authentikConfig must be an object"),
])
def test_each_problem_is_named(changes: dict[str, Any], message: str) -> None:
    parsed = parse(spec(**changes), "ns")
    assert isinstance(parsed, Invalid)
    assert message in parsed.message


def test_every_problem_is_reported_at_once() -> None:
    parsed = parse(spec(port=70000, protocol="ftp", config={"mode": "x"}), "ns")
    assert isinstance(parsed, Invalid)
    assert len(parsed.problems) == 3


@pytest.mark.parametrize("value", [None, [], "spec", 3, {"authentikConfig": None}])
def test_not_a_spec_at_all(value: Any) -> None:
    parsed = parse(value, "ns")
    assert isinstance(parsed, Invalid)
    assert parsed.message


def test_slugify() -> None:
    assert slugify("My App (prod)") == "my-app-prod"
    assert slugify("x" * 80) == "x" * 50
