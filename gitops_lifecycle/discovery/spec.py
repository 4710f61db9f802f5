"""A ProxyConfig's spec, read and checked: a `ProxySpec`, or every problem with it.

The CRD schema already rejects most mistakes, but the controller never trusts that (a CRD
may be older than the daemon, or validation may be off): any JSON at all gives either a
`ProxySpec` or an `Invalid` whose message says what is wrong. This module never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

MODES = ("forward_single", "forward_domain", "proxy")
DELETION_POLICIES = ("Delete", "Retain")
DEFAULT_SKIP_PATH_REGEX = "^/api/.*$"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
HOST_LABEL = re.compile(r"^[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?$")
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
MAX_SLUG = 50
MAX_NAME = 255
# Go's RE2 (the outpost matches skipPathRegex in Go) has no look-around or back-references.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]")


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """A checked spec, defaults filled in."""

    service_name: str
    service_namespace: str
    external_host: str
    internal_host: str
    """The upstream URL (`http://name.namespace.svc.cluster.local:80`)."""
    enabled: bool
    provider_name: str
    mode: str
    skip_path_regex: str
    basic_auth_enabled: bool
    basic_auth_user_attribute: str
    basic_auth_password_attribute: str
    internal_host_ssl_validation: bool
    adopt: bool
    application_slug: str
    application_name: str
    application_group: str
    launch_url: str
    outpost: str
    authorization_flow: str | None
    invalidation_flow: str | None
    cookie_domain: str | None
    deletion_policy: Literal["Delete", "Retain"]


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a spec cannot be acted on, one problem per entry."""

    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def slugify(name: str) -> str:
    """An application slug from a provider name (`My App` → `my-app`)."""
    slug = re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")
    return slug[:MAX_SLUG].strip("-")


class _Reader:
    """Reads typed fields out of untrusted JSON, collecting problems instead of raising."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def mapping(self, data: Any, key: str, *, required: bool = False) -> dict[str, Any]:
        if data is None:
            if required:
                self.problems.append(f"{key} is required")
            return {}
        if not isinstance(data, dict):
            self.problems.append(f"{key} must be an object")
            return {}
        return data

    def text(self, data: dict[str, Any], key: str, path: str, *,  # noqa: PLR0913 - keywords
             required: bool = False, default: str = "", max_length: int = 2048) -> str:
        value = data.get(key)
        if value is None or (value == "" and required):
            if required:
                self.problems.append(f"{path} is required")
            return default
        if not isinstance(value, str):
            self.problems.append(f"{path} must be a string")
            return default
        if len(value) > max_length:
            self.problems.append(f"{path} is longer than {max_length} characters")
            return default
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
            self.problems.append(f"{path} contains control characters")
            return default
        if value.strip() and value != value.strip():
            # Authentik trims text fields: what it stores would never match what we ask for.
            self.problems.append(f"{path} has leading or trailing whitespace")
            return default
        return value

    def flag(self, data: dict[str, Any], key: str, path: str, *, default: bool) -> bool:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.append(f"{path} must be true or false")
            return default
        return value

    def choice(self, data: dict[str, Any], key: str, path: str, options: tuple[str, ...],
               default: str) -> str:
        value = data.get(key)
        if value is None:
            return default
        if value not in options:
            self.problems.append(f"{path} must be one of {', '.join(options)} (got {value!r})")
            return default
        return str(value)

    def port(self, data: dict[str, Any]) -> int:
        value = data.get("port")
        if value is None:
            return 80
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.problems.append(f"spec.port must be a number from 1 to 65535 (got {value!r})")
            return 80
        return value

    def string_map(self, data: dict[str, Any], key: str) -> None:
        value = data.get(key)
        if value is None:
            return
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.problems.append(f"spec.{key} must map strings to strings")


def hostname_problem(host: str) -> str | None:
    """Why `host` is not a valid host name (None when it is)."""
    if not host or len(host) > 253:
        return "is not a host name"
    labels = host.rstrip(".").split(".")
    if not all(len(label) <= 63 and HOST_LABEL.match(label) for label in labels):
        return "is not a host name"
    return None


def url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL with a valid host (None when it is)."""
    if any(ch.isspace() for ch in url):
        return "must not contain spaces"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a URL"
    if parts.scheme not in {"http", "https"}:
        return "must start with http:// or https://"
    host = parts.hostname or ""
    if port == 0 or (hostname_problem(host) and not _is_ip_literal(parts.netloc)):
        return "has no valid host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    return None


def _is_ip_literal(netloc: str) -> bool:
    host = netloc.rsplit("@", 1)[-1]
    return host.startswith("[") or bool(re.match(r"^\d{1,3}(\.\d{1,3}){3}(:\d+)?$", host))


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` (one regular expression per line) would not work in the outpost."""
    for number, line in enumerate(pattern.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            re.compile(line)
        except re.error as exc:
            return f"line {number} does not compile: {exc}"
        except (RecursionError, OverflowError, MemoryError):
            return f"line {number} is too complex"
        if _NOT_RE2.search(line):
            return (f"line {number} uses look-around or back-references, which the outpost's "
                    "RE2 engine does not support")
    return None


def parse(spec: Any, namespace: str) -> ProxySpec | Invalid:
    """The checked spec of a ProxyConfig in `namespace`, or every problem found."""
    r = _Reader()
    data = r.mapping(spec, "spec", required=True)
    config = r.mapping(data.get("authentikConfig"), "spec.authentikConfig", required=True)
    target = _target(r, data, namespace)
    provider = r.text(config, "providerName", "spec.authentikConfig.providerName",
                      required=True, max_length=MAX_NAME)
    if provider and not provider.strip():
        r.problems.append("spec.authentikConfig.providerName is blank")
    options = _provider_options(r, config)
    application = _application(r, config, provider)
    deletion = r.choice(data, "deletionPolicy", "spec.deletionPolicy", DELETION_POLICIES,
                        "Delete")
    r.string_map(data, "labels")
    r.string_map(data, "annotations")
    built = ProxySpec(
        **target, **options, **application, provider_name=provider,
        enabled=r.flag(config, "enabled", "spec.authentikConfig.enabled", default=True),
        adopt=r.flag(config, "adopt", "spec.authentikConfig.adopt", default=False),
        outpost=r.text(config, "outpost", "spec.authentikConfig.outpost", max_length=MAX_NAME),
        deletion_policy="Retain" if deletion == "Retain" else "Delete",
    )
    if r.problems:
        return Invalid(tuple(dict.fromkeys(r.problems)))
    return built


def _target(r: _Reader, data: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The Service, the external URL and the upstream URL."""
    service = r.text(data, "serviceName", "spec.serviceName", required=True, max_length=63)
    if service and not DNS_LABEL.match(service):
        r.problems.append(f"spec.serviceName {service!r} is not a valid Service name")
    service_namespace = r.text(data, "serviceNamespace", "spec.serviceNamespace",
                               max_length=63) or namespace
    if service_namespace and not DNS_LABEL.match(service_namespace):
        r.problems.append(f"spec.serviceNamespace {service_namespace!r} is not a namespace name")
    external = r.text(data, "externalHost", "spec.externalHost", required=True)
    if external and (problem := url_problem(external)):
        r.problems.append(f"spec.externalHost {external!r} {problem}")
    protocol = r.choice(data, "protocol", "spec.protocol", ("http", "https"), "http")
    port = r.port(data)
    internal = r.text(data, "internalHost", "spec.internalHost")
    if not internal:
        internal = f"{protocol}://{service}.{service_namespace}.svc.cluster.local:{port}"
    elif "://" in internal:
        if problem := url_problem(internal):
            r.problems.append(f"spec.internalHost {internal!r} {problem}")
    else:
        if problem := hostname_problem(internal):
            r.problems.append(
                f"spec.internalHost {internal!r} {problem} (give a host name or a URL)")
        internal = f"{protocol}://{internal}:{port}"
    return {"service_name": service, "service_namespace": service_namespace,
            "external_host": external, "internal_host": internal}


def _provider_options(r: _Reader, config: dict[str, Any]) -> dict[str, Any]:
    """The provider's settings beyond its name."""
    path = "spec.authentikConfig"
    mode = r.choice(config, "mode", f"{path}.mode", MODES, "forward_single")
    skip = r.text(config, "skipPathRegex", f"{path}.skipPathRegex",
                  default=DEFAULT_SKIP_PATH_REGEX)
    if problem := regex_problem(skip):
        r.problems.append(f"{path}.skipPathRegex: {problem}")
    basic = r.flag(config, "basicAuthEnabled", f"{path}.basicAuthEnabled", default=False)
    basic_user = r.text(config, "basicAuthUserAttribute", f"{path}.basicAuthUserAttribute",
                        max_length=MAX_NAME)
    basic_password = r.text(config, "basicAuthPasswordAttribute",
                            f"{path}.basicAuthPasswordAttribute", max_length=MAX_NAME)
    if basic and not (basic_user and basic_password):
        r.problems.append(f"{path}.basicAuthEnabled needs basicAuthUserAttribute and "
                          "basicAuthPasswordAttribute")
    flows = {}
    for key in ("authorizationFlow", "invalidationFlow"):
        value = r.text(config, key, f"{path}.{key}", max_length=MAX_SLUG)
        if value and not SLUG.match(value):
            r.problems.append(f"{path}.{key} {value!r} is not a flow slug")
        flows[key] = value or None
    cookie = r.text(config, "cookieDomain", f"{path}.cookieDomain", max_length=MAX_NAME)
    if cookie and hostname_problem(cookie.lstrip(".")):
        r.problems.append(f"{path}.cookieDomain {cookie!r} is not a domain")
    ssl = r.flag(config, "internalHostSslValidation", f"{path}.internalHostSslValidation",
                 default=False)
    return {"mode": mode, "skip_path_regex": skip, "basic_auth_enabled": basic,
            "basic_auth_user_attribute": basic_user,
            "basic_auth_password_attribute": basic_password,
            "internal_host_ssl_validation": ssl,
            "authorization_flow": flows["authorizationFlow"],
            "invalidation_flow": flows["invalidationFlow"], "cookie_domain": cookie or None}


def _application(r: _Reader, config: dict[str, Any], provider: str) -> dict[str, Any]:
    """The application's slug, name, group and launch URL."""
    path = "spec.authentikConfig"
    slug = r.text(config, "applicationSlug", f"{path}.applicationSlug",
                  max_length=MAX_SLUG) or slugify(provider)
    if provider and not SLUG.match(slug):
        r.problems.append(f"{path}.applicationSlug {slug!r} must be letters, digits, '-' or '_' "
                          "(set it when providerName gives no slug)")
    launch = r.text(config, "launchUrl", f"{path}.launchUrl")
    if launch and (problem := url_problem(launch)):
        r.problems.append(f"{path}.launchUrl {launch!r} {problem}")
    name = r.text(config, "applicationName", f"{path}.applicationName", max_length=MAX_NAME)
    group = r.text(config, "applicationGroup", f"{path}.applicationGroup", max_length=MAX_NAME)
    return {"application_slug": slug, "application_name": name or provider,
            "application_group": group, "launch_url": launch}
