"""Property: any spec at all gives a checked spec or Failed with a message, never an exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_lifecycle.discovery.spec import Invalid, ProxySpec, parse
from gitops_lifecycle.discovery.status import Report, render

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
HOSTS = st.sampled_from(["https://a.example.com", "http://x:8080/p", "ftp://x", "https://",
                         "https://a b", "", "a.example.com", "https://[::1]:9", "https://é.com"])
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "serviceName": st.sampled_from(["app", "App", "", "a" * 70, "a-b"]) | JSON,
    "serviceNamespace": st.sampled_from(["ns", "NS", ""]) | JSON,
    "externalHost": HOSTS | JSON,
    "internalHost": st.sampled_from(["svc", "http://svc:80", "bad host", "http://"]) | JSON,
    "port": st.integers(-5, 70000) | JSON,
    "protocol": st.sampled_from(["http", "https", "ftp"]) | JSON,
    "deletionPolicy": st.sampled_from(["Delete", "Retain", "Orphan"]) | JSON,
    "labels": JSON,
}
CONFIG: dict[str, st.SearchStrategy[Any]] = {
    "providerName": st.sampled_from(["App", "", " ", "!!!", "x" * 300]) | JSON,
    "mode": st.sampled_from(["forward_single", "forward_domain", "proxy", "x"]) | JSON,
    "skipPathRegex": st.sampled_from(["^/api/.*$", "(", "(?=x)", "a\n(b", "\\1"]) | st.text(),
    "basicAuthEnabled": st.booleans() | JSON,
    "enabled": st.booleans() | JSON,
    "adopt": st.booleans() | JSON,
    "applicationSlug": st.sampled_from(["app", "a b", ""]) | JSON,
    "launchUrl": HOSTS | JSON,
    "cookieDomain": st.sampled_from([".example.com", "bad domain"]) | JSON,
    "authorizationFlow": st.sampled_from(["flow", "a/b"]) | JSON,
}
SPECS = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={
        **FIELDS, "authentikConfig": st.fixed_dictionaries({}, optional=CONFIG) | JSON}),
)


@settings(max_examples=400, deadline=None)
@given(spec=SPECS, namespace=st.sampled_from(["apps", "", "Bad"]))
def test_any_spec_is_checked_or_failed_with_a_message(spec: Any, namespace: str) -> None:
    parsed = parse(spec, namespace)
    if isinstance(parsed, ProxySpec):
        assert parsed.provider_name.strip()
        assert parsed.external_host.startswith(("http://", "https://"))
        return
    assert isinstance(parsed, Invalid)
    assert parsed.message
    status = render(Report().fail("InvalidSpec", parsed.message), None, generation=1, now=0)
    assert status["phase"] == "Failed"
    assert status["conditions"][0]["message"] == parsed.message


VALID = {"serviceName": "app", "externalHost": "https://app.example.com",
         "authentikConfig": {"providerName": "App"}}
BREAKAGES = st.sampled_from([
    ("externalHost", "not a url"), ("port", 0), ("port", "80"), ("protocol", "ftp"),
    ("serviceName", "Not_A_Name"), ("deletionPolicy", "Orphan"),
    ("authentikConfig.providerName", ""), ("authentikConfig.mode", "forward"),
    ("authentikConfig.skipPathRegex", "(unclosed"), ("authentikConfig.enabled", "yes"),
    ("authentikConfig.basicAuthEnabled", True), ("authentikConfig.launchUrl", "x"),
    ("authentikConfig", None), ("authentikConfig.applicationSlug", "no spaces"),
])


@settings(max_examples=200, deadline=None)
@given(breakages=st.lists(BREAKAGES, min_size=1, max_size=4))
def test_every_invalid_spec_is_failed_and_named(breakages: list[tuple[str, Any]]) -> None:
    spec: dict[str, Any] = {**VALID, "authentikConfig": dict(VALID["authentikConfig"])}
    for path, value in breakages:
        *parents, last = path.split(".")
        target = spec
        for part in parents:
            target = target[part] if isinstance(target.get(part), dict) else {}
        target[last] = value
    parsed = parse(spec, "apps")
    assert isinstance(parsed, Invalid)
    named = {path.split(".")[-1] for path, _ in breakages}
    assert any(name in parsed.message for name in named), parsed.message
