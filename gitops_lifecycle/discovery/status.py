"""A ProxyConfig's status from what one reconciliation found: phase, conditions and ids.

Phases: Pending (not yet done, or disabled), Ready (provider, application and outpost all in
place), Degraded (Authentik could not be reached or answered with an error; it will be tried
again), Failed (the spec or Authentik's state needs a person: invalid spec, a provider that is
not ours, a name another ProxyConfig claims, a field Authentik rejects). The status is written
only when something other than `lastReconciled` changed, so a resync that finds everything in
place writes nothing to Kubernetes either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gitops_lifecycle.clock import format_time

Phase = Literal["Pending", "Ready", "Degraded", "Failed"]
READY = "Ready"
PROVIDER = "ProviderSynced"
APPLICATION = "ApplicationSynced"
OUTPOST = "OutpostAssigned"
CONDITIONS = (READY, PROVIDER, APPLICATION, OUTPOST)


@dataclass(frozen=True, slots=True)
class Condition:
    status: bool | None
    reason: str
    message: str = ""

    @property
    def text(self) -> str:
        return "Unknown" if self.status is None else str(self.status)


@dataclass
class Report:
    """What a reconciliation found; `render` turns it into the status object."""

    phase: Phase = "Pending"
    reason: str = "Reconciling"
    message: str = ""
    conditions: dict[str, Condition] = field(default_factory=dict)
    provider_pk: int | None = None
    application_pk: str | None = None
    application_slug: str | None = None
    outpost: dict[str, Any] | None = None

    def ok(self, kind: str, reason: str, message: str = "") -> None:
        """Condition `kind` is met."""
        self.conditions[kind] = Condition(status=True, reason=reason, message=message)

    def fail(self, reason: str, message: str, *, kind: str | None = None) -> Report:
        """Phase Failed: a person must change the spec or Authentik."""
        return self._stop("Failed", reason, message, kind)

    def degrade(self, reason: str, message: str, *, kind: str | None = None) -> Report:
        """Phase Degraded: transient, tried again with backoff."""
        return self._stop("Degraded", reason, message, kind)

    def pending(self, reason: str, message: str) -> Report:
        return self._stop("Pending", reason, message, None)

    def ready(self) -> Report:
        self.phase, self.reason, self.message = "Ready", "Synced", ""
        return self

    def _stop(self, phase: Phase, reason: str, message: str, kind: str | None) -> Report:
        self.phase, self.reason, self.message = phase, reason, message
        if kind is not None:
            self.conditions[kind] = Condition(status=False, reason=reason, message=message)
        return self


def render(report: Report, old: dict[str, Any] | None, *, generation: int,
           now: float) -> dict[str, Any]:
    """The new status; transition times are kept for conditions whose status did not change."""
    old = old if isinstance(old, dict) else {}
    stamp = format_time(now)
    previous = {c.get("type"): c for c in old.get("conditions") or () if isinstance(c, dict)}
    ready = report.phase == "Ready"
    wanted = dict(report.conditions)
    wanted[READY] = Condition(ready, "Synced" if ready else report.reason,
                              "" if ready else report.message)
    conditions = []
    for kind in CONDITIONS:
        condition = wanted.get(kind, Condition(None, "NotChecked",
                                               "not reached in the last reconciliation"))
        before = previous.get(kind) or {}
        changed = before.get("status") != condition.text
        conditions.append({
            "type": kind, "status": condition.text, "reason": condition.reason,
            "message": condition.message, "observedGeneration": generation,
            "lastTransitionTime": stamp if changed else before.get("lastTransitionTime", stamp),
        })
    status: dict[str, Any] = {
        "phase": report.phase, "observedGeneration": generation, "conditions": conditions,
        "lastReconciled": stamp,
    }
    # Ids found earlier are kept until a reconciliation learns otherwise.
    for key, value in (("authentikProviderId", report.provider_pk),
                       ("authentikApplicationId", report.application_pk),
                       ("applicationSlug", report.application_slug),
                       ("outpost", report.outpost)):
        if value is not None:
            status[key] = value
        elif key in old:
            status[key] = old[key]
    return status


def differs(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether writing `new` would change anything but `lastReconciled`."""
    if not isinstance(old, dict):
        return True
    def strip(status: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in status.items() if k != "lastReconciled"}
    return strip(old) != strip(new)
