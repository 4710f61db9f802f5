"""What reconciling a ProxyConfig would write to Authentik, read from the last listing only.

Dry-run reports this instead of writing: the same decisions as `Ensurer` (ownership, the
field-by-field comparison, outpost membership), made on the `View` without a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_lifecycle.authentik.models import Outpost, Provider
from gitops_lifecycle.discovery import ownership
from gitops_lifecycle.discovery.desired import (
    Defaults,
    application_body,
    application_patch,
    provider_body,
    provider_patch,
    same,
)
from gitops_lifecycle.discovery.spec import ProxySpec
from gitops_lifecycle.discovery.view import View


@dataclass(frozen=True, slots=True)
class Step:
    """One write reconciling would make (or why it would stop)."""

    what: str
    """e.g. "create a provider", "update the application", "fail"."""
    details: tuple[tuple[str, Any], ...] = ()

    def fields(self) -> dict[str, Any]:
        return dict(self.details)


def _changed(patch: dict[str, Any], actual: Any) -> list[str]:
    return sorted(key for key, value in patch.items()
                  if not same(value, getattr(actual, key, None)))


def plan(  # noqa: PLR0913 - the ProxyConfig, what it may take over, and where it goes
    view: View, *, key: str, cluster: str, spec: ProxySpec, defaults: Defaults,
    outpost: Outpost, provider: Provider | None, created: frozenset[int],
    exists: Callable[[str], bool],
) -> list[Step]:
    """The writes a reconcile would make now; `provider` is the one it would manage (None:
    it would create one)."""
    desired = provider_body(spec, defaults)
    marker = ownership.marker(cluster, key)
    steps: list[Step] = []
    if provider is None:
        steps.append(Step("create a provider", (("provider", spec.provider_name),)))
        slug = spec.application_slug
        steps.append(Step("create an application", (("application", slug),)))
        steps.append(Step("add the provider to an outpost", (("outpost", outpost.name),)))
        return steps
    verdict = ownership.judge_provider(provider, view.application_of(provider), cluster=cluster,
                                       key=key, adopt=spec.adopt, created=created)
    if isinstance(verdict, ownership.Foreign):
        return [Step("fail", (("reason", "NotManaged"), ("message", verdict.message)))]
    if isinstance(verdict, ownership.Sibling) and exists(verdict.key):
        return [Step("fail", (("reason", "Conflict"),
                              ("message", f"provider belongs to ProxyConfig {verdict.key}")))]
    patch = provider_patch(desired, provider)
    if patch:
        steps.append(Step("update the provider", (("provider", provider.name),
                                                  ("fields", _changed(patch, provider)))))
    slug = provider.assigned_application_slug or spec.application_slug
    wanted = application_body(spec, provider=provider.pk, marker=marker)
    application = view.applications.get(slug)
    if application is None:
        steps.append(Step("create an application", (("application", slug),)))
    elif changes := application_patch(wanted, application):
        steps.append(Step("update the application", (("application", slug),
                                                     ("fields", sorted(changes)))))
    if provider.pk not in outpost.providers:
        steps.append(Step("add the provider to an outpost", (("provider", provider.name),
                                                             ("outpost", outpost.name))))
    return steps
