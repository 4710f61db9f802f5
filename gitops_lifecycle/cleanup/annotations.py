"""The annotations and labels the cleanup policies read, documented in one place.

Users put these on any object the cleanup controllers look at (Jobs, Pods, Events,
ReplicaSets):

- `gitops.io/cleanup: "false"` — opt out: this object is never deleted by any policy.
- `gitops.io/cleanup-ttl: "2h"` — this object's own time limit, replacing the policy's:
  the TTL for Jobs and Events, the threshold for stuck Pods, the minimum age for
  ReplicaSets. Durations as in the settings (`30s`, `30m`, `1h`, `7d`, `1h30m`, seconds).
  An unreadable value makes the object ineligible (reason `invalid_annotation`) rather than
  falling back to a default the user did not mean.

Read, not written: the GitOps markers below say a tool would re-create a deleted Job from
Git and run it again (a Flux Kustomization or HelmRelease, Argo CD), so such Jobs are
skipped unless `jobs.includeGitopsManaged` is set; Helm hook Jobs are always left to Helm.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitops_lifecycle.durations import parse_duration
from gitops_lifecycle.kube import kept

# Each key is declared to the informers' caches (`kube.kept`), which keep no other.
OPT_OUT = kept.annotation("gitops.io/cleanup")
TTL = kept.annotation("gitops.io/cleanup-ttl")

FLUX_KUSTOMIZATION_LABELS = (
    kept.label("kustomize.toolkit.fluxcd.io/name"),
    kept.label("kustomize.toolkit.fluxcd.io/namespace"),
)
FLUX_HELMRELEASE_LABEL = kept.label("helm.toolkit.fluxcd.io/name")
"""Set by Flux's helm-controller on everything a HelmRelease installs (drift detection may
re-create it)."""
ARGOCD_TRACKING_ANNOTATION = kept.annotation("argocd.argoproj.io/tracking-id")
ARGOCD_INSTANCE_LABELS = (kept.label("argocd.argoproj.io/instance"),
                          kept.label("app.kubernetes.io/instance"))
"""Argo CD's tracking labels: its default key, `app.kubernetes.io/instance`, and the one it
may be configured with. A Helm chart sets the default key too: such a Job is skipped unless
`jobs.includeGitopsManaged` (with self-heal on, Argo CD would re-create and re-run it)."""
HELM_HOOK = kept.annotation("helm.sh/hook")
"""A Helm hook: its `helm.sh/hook-delete-policy` decides when it goes, not this daemon."""

DEPLOYMENT_REVISION = kept.annotation("deployment.kubernetes.io/revision")
"""Set by the Deployment controller on a Deployment and each of its ReplicaSets."""


class InvalidAnnotationError(ValueError):
    """An annotation's value cannot be read."""


def opted_out(annotations: Mapping[str, str] | None) -> bool:
    """Whether the object carries `gitops.io/cleanup: "false"`."""
    value = (annotations or {}).get(OPT_OUT)
    return value is not None and value.strip().lower() in {"false", "no", "off", "0", "disabled"}


def ttl_override(annotations: Mapping[str, str] | None, default: float) -> float:
    """The object's own `gitops.io/cleanup-ttl` in seconds, or `default`."""
    value = (annotations or {}).get(TTL)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        msg = f"{TTL}: {value!r} is not a duration"
        raise InvalidAnnotationError(msg) from exc


def gitops_managed(
    labels: Mapping[str, str] | None, annotations: Mapping[str, str] | None
) -> bool:
    """Whether a Flux Kustomization or HelmRelease, or Argo CD, applies this object."""
    labels = labels or {}
    if all(key in labels for key in FLUX_KUSTOMIZATION_LABELS):
        return True
    if FLUX_HELMRELEASE_LABEL in labels:
        return True
    if any(key in labels for key in ARGOCD_INSTANCE_LABELS):
        return True
    return ARGOCD_TRACKING_ANNOTATION in (annotations or {})


def helm_hook(annotations: Mapping[str, str] | None) -> bool:
    """Whether the object is a Helm hook (its own delete policy applies)."""
    return HELM_HOOK in (annotations or {})
