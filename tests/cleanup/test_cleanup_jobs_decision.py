"""Which finished Jobs the completedJobs / failedJobs policies select, and why not the rest."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_lifecycle.cleanup import jobs
from gitops_lifecycle.cleanup.decision import Delete, Skip, Wait
from gitops_lifecycle.settings import CleanupSettings
from tests.cleanup.builders import HOUR, NOW, job_dict, record

FLUX = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux"}
DEFAULTS = CleanupSettings()


def settings(**changes: Any) -> CleanupSettings:
    return CleanupSettings.model_validate(changes)


CASES = [
    # (id, job, settings, expected decision)
    ("completed past ttl", job_dict(finished=NOW - 2 * HOUR), DEFAULTS,
     Delete("completedJobs", NOW - HOUR)),
    ("completed exactly at ttl", job_dict(finished=NOW - HOUR), DEFAULTS,
     Delete("completedJobs", NOW)),
    ("completed within ttl waits for its expiry", job_dict(finished=NOW - 600), DEFAULTS,
     Wait("completedJobs", NOW - 600 + HOUR)),
    ("failed past 24h", job_dict(finished=NOW - 25 * HOUR, outcome="Failed"), DEFAULTS,
     Delete("failedJobs", NOW - HOUR)),
    ("failed at 2h waits for the failed ttl", job_dict(finished=NOW - 2 * HOUR, outcome="Failed"),
     DEFAULTS, Wait("failedJobs", NOW + 22 * HOUR)),
    ("completionTime without a terminal condition is not finished",
     job_dict(finished=NOW - 2 * HOUR, completion_only=True), DEFAULTS,
     Skip("completedJobs", "not_finished")),
    ("running", job_dict(), DEFAULTS, Skip("completedJobs", "not_finished")),
    ("ttlSecondsAfterFinished set", job_dict(finished=NOW - 9 * HOUR, ttl=100), DEFAULTS,
     Skip("completedJobs", "ttl_managed_by_kubernetes")),
    ("ttlSecondsAfterFinished zero", job_dict(finished=NOW - 9 * HOUR, ttl=0), DEFAULTS,
     Skip("completedJobs", "ttl_managed_by_kubernetes")),
    ("owned by a CronJob", job_dict(finished=NOW - 9 * HOUR, owner="CronJob"), DEFAULTS,
     Skip("completedJobs", "cronjob_owned")),
    ("owned by a CronJob, included by config", job_dict(finished=NOW - 9 * HOUR, owner="CronJob"),
     settings(controller={"policies": {"jobs": {"includeCronJobOwned": True}}}),
     Delete("completedJobs", NOW - 8 * HOUR)),
    ("owned by something else", job_dict(finished=NOW - 9 * HOUR, owner="Workflow"), DEFAULTS,
     Delete("completedJobs", NOW - 8 * HOUR)),
    ("Flux Kustomization applies it", job_dict(finished=NOW - 9 * HOUR, labels=FLUX), DEFAULTS,
     Skip("completedJobs", "gitops_managed")),
    ("Argo CD tracking annotation",
     job_dict(finished=NOW - 9 * HOUR,
              annotations={"argocd.argoproj.io/tracking-id": "app:batch/Job:default/job"}),
     DEFAULTS, Skip("completedJobs", "gitops_managed")),
    ("Flux HelmRelease installed it",
     job_dict(finished=NOW - 9 * HOUR, labels={"helm.toolkit.fluxcd.io/name": "app",
                                               "helm.toolkit.fluxcd.io/namespace": "flux"}),
     DEFAULTS, Skip("completedJobs", "gitops_managed")),
    ("Argo CD's default tracking label",
     job_dict(finished=NOW - 9 * HOUR, labels={"app.kubernetes.io/instance": "batch"}),
     DEFAULTS, Skip("completedJobs", "gitops_managed")),
    ("a Helm hook is left to Helm's delete policy",
     job_dict(finished=NOW - 9 * HOUR, annotations={"helm.sh/hook": "post-install"}),
     settings(controller={"policies": {"jobs": {"includeGitopsManaged": True}}}),
     Skip("completedJobs", "helm_hook")),
    ("GitOps-managed, included by config", job_dict(finished=NOW - 9 * HOUR, labels=FLUX),
     settings(controller={"policies": {"jobs": {"includeGitopsManaged": True}}}),
     Delete("completedJobs", NOW - 8 * HOUR)),
    ("only one Flux label is not a Kustomization",
     job_dict(finished=NOW - 9 * HOUR, labels={"kustomize.toolkit.fluxcd.io/name": "x"}),
     DEFAULTS, Delete("completedJobs", NOW - 8 * HOUR)),
    ("opted out", job_dict(finished=NOW - 9 * HOUR, annotations={"gitops.io/cleanup": "false"}),
     DEFAULTS, Skip("completedJobs", "opted_out")),
    ("opt-out annotation saying true does not opt out",
     job_dict(finished=NOW - 9 * HOUR, annotations={"gitops.io/cleanup": "true"}),
     DEFAULTS, Delete("completedJobs", NOW - 8 * HOUR)),
    ("ttl annotation shortens", job_dict(finished=NOW - 600,
                                         annotations={"gitops.io/cleanup-ttl": "5m"}),
     DEFAULTS, Delete("completedJobs", NOW - 300)),
    ("ttl annotation lengthens", job_dict(finished=NOW - 2 * HOUR,
                                          annotations={"gitops.io/cleanup-ttl": "1d"}),
     DEFAULTS, Wait("completedJobs", NOW + 22 * HOUR)),
    ("unreadable ttl annotation", job_dict(finished=NOW - 9 * HOUR,
                                           annotations={"gitops.io/cleanup-ttl": "soon"}),
     DEFAULTS, Skip("completedJobs", "invalid_annotation")),
    ("excluded namespace", job_dict(finished=NOW - 9 * HOUR, namespace="kube-system"),
     settings(namespaces={"exclude": ["kube-system"]}),
     Skip("completedJobs", "excluded_namespace")),
    ("not in the include list", job_dict(finished=NOW - 9 * HOUR, namespace="other"),
     settings(namespaces={"include": ["apps"]}), Skip("completedJobs", "excluded_namespace")),
    ("in the include list", job_dict(finished=NOW - 9 * HOUR, namespace="apps"),
     settings(namespaces={"include": ["apps"]}), Delete("completedJobs", NOW - 8 * HOUR)),
    ("completed policy disabled", job_dict(finished=NOW - 9 * HOUR),
     settings(controller={"policies": {"completedJobs": {"enabled": False}}}),
     Skip("completedJobs", "policy_disabled")),
    ("failed policy disabled leaves completed alone",
     job_dict(finished=NOW - 9 * HOUR),
     settings(controller={"policies": {"failedJobs": {"enabled": False}}}),
     Delete("completedJobs", NOW - 8 * HOUR)),
    ("already being deleted", job_dict(finished=NOW - 9 * HOUR, deleting=True), DEFAULTS,
     Skip("completedJobs", "being_deleted")),
    ("custom completed ttl", job_dict(finished=NOW - 600),
     settings(controller={"policies": {"completedJobs": {"ttl": "5m"}}}),
     Delete("completedJobs", NOW - 300)),
]


@pytest.mark.parametrize(("job", "config", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_job_decision(job: dict[str, Any], config: CleanupSettings, expected: object) -> None:
    assert jobs.decide(record(job), NOW, config) == expected


def test_completion_time_is_the_fallback_finish_time() -> None:
    job = job_dict(finished=NOW - 2 * HOUR)
    job["status"]["conditions"][1].pop("lastTransitionTime")
    assert jobs.finish_time(record(job)) == NOW - 2 * HOUR


def test_a_false_terminal_condition_is_not_finished() -> None:
    job = job_dict(finished=NOW - 2 * HOUR)
    for condition in job["status"]["conditions"]:
        condition["status"] = "False"
    assert jobs.decide(record(job), NOW, DEFAULTS) == Skip("completedJobs", "not_finished")


def test_every_reason_is_declared_for_the_metric_labels() -> None:
    reasons = {case[3].reason for case in CASES if isinstance(case[3], Skip)}
    assert reasons <= set(jobs.REASONS)
