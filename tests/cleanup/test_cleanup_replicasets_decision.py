"""Which ReplicaSets the replicaSets policy selects: surplus old revisions of a Deployment."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_lifecycle.cleanup import replicasets
from gitops_lifecycle.cleanup.decision import Delete, Skip, Wait
from gitops_lifecycle.settings import CleanupSettings
from tests.cleanup.builders import HOUR, NOW, deployment_dict, record, replicaset_dict

DEFAULTS = CleanupSettings()
WEB = deployment_dict(revision=6)
OLD = {n: replicaset_dict(WEB, n) for n in range(1, 7)}  # revisions 1..6, 6 current
OLD[6]["spec"]["replicas"] = 2
OLD[6]["status"]["replicas"] = 2
ALL = list(OLD.values())


def decide(rs: dict[str, Any], *, deployment: dict[str, Any] | None = WEB,
           siblings: list[dict[str, Any]] = ALL, config: CleanupSettings = DEFAULTS) -> object:
    return replicasets.decide(
        record(rs), NOW, config,
        deployment=record(deployment) if deployment is not None else None,
        siblings=[record(s) for s in siblings],
    )


def test_an_old_revision_beyond_the_newest_three_old_ones_is_deleted() -> None:
    # Old revisions 5, 4, 3 are kept; 2 and 1 go once they are an hour old.
    assert decide(OLD[2]) == Delete("replicaSets", NOW - HOUR)
    assert decide(OLD[1]) == Delete("replicaSets", NOW - HOUR)


@pytest.mark.parametrize("revision", [3, 4, 5])
def test_the_newest_min_keep_old_revisions_are_kept(revision: int) -> None:
    assert decide(OLD[revision]) == Skip("replicaSets", "within_min_keep")


def test_the_current_revision_is_kept_even_when_scaled_to_zero() -> None:
    scaled = replicaset_dict(WEB, 6)
    siblings = [*ALL[:5], scaled]
    assert decide(scaled, siblings=siblings) == Skip("replicaSets", "current_revision")


def test_a_sibling_newer_than_the_deployment_annotation_is_current() -> None:
    newest = replicaset_dict(WEB, 7)
    assert decide(newest, siblings=[*ALL, newest]) == Skip("replicaSets", "current_revision")


def test_a_replicaset_with_replicas_is_kept() -> None:
    assert decide(replicaset_dict(WEB, 1, replicas=1)) == Skip("replicaSets", "has_replicas")
    assert decide(replicaset_dict(WEB, 1, current=1)) == Skip("replicaSets", "has_replicas")


def test_a_rollout_in_progress_keeps_every_replicaset() -> None:
    rolling = deployment_dict(revision=6, generation=8, observed=7)
    rolling["metadata"]["uid"] = WEB["metadata"]["uid"]
    assert decide(OLD[1], deployment=rolling) == Skip("replicaSets", "rollout_in_progress")


def test_a_young_replicaset_waits_for_min_age() -> None:
    young = replicaset_dict(WEB, 1, created=NOW - 600)
    assert decide(young) == Wait("replicaSets", NOW - 600 + HOUR)


def test_a_replicaset_no_deployment_controls_is_kept() -> None:
    assert decide(replicaset_dict(WEB, 1, owned=False)) == Skip(
        "replicaSets", "not_deployment_owned"
    )


def test_a_replicaset_whose_deployment_is_not_known_is_kept() -> None:
    assert decide(OLD[1], deployment=None) == Skip("replicaSets", "deployment_not_found")
    other = deployment_dict(revision=6)  # same name, another uid: a re-created Deployment
    assert decide(OLD[1], deployment=other) == Skip("replicaSets", "deployment_not_found")


def test_a_replicaset_without_a_revision_is_kept() -> None:
    assert decide(replicaset_dict(WEB, None)) == Skip("replicaSets", "no_revision")


def test_min_keep_zero_keeps_only_the_current_revision() -> None:
    config = CleanupSettings.model_validate(
        {"controller": {"policies": {"replicaSets": {"minKeep": 0}}}}
    )
    assert decide(OLD[5], config=config) == Delete("replicaSets", NOW - HOUR)


def test_opt_out_and_exclusions_are_honoured() -> None:
    opted = replicaset_dict(WEB, 1, annotations={"gitops.io/cleanup": "false"})
    assert decide(opted) == Skip("replicaSets", "opted_out")
    config = CleanupSettings.model_validate({"namespaces": {"exclude": ["default"]}})
    assert decide(OLD[1], config=config) == Skip("replicaSets", "excluded_namespace")


def test_a_disabled_policy_deletes_nothing() -> None:
    config = CleanupSettings.model_validate(
        {"controller": {"policies": {"replicaSets": {"enabled": False}}}}
    )
    assert decide(OLD[1], config=config) == Skip("replicaSets", "policy_disabled")


def test_min_age_annotation_overrides() -> None:
    rs = replicaset_dict(WEB, 1, created=NOW - 600, annotations={"gitops.io/cleanup-ttl": "5m"})
    assert decide(rs) == Delete("replicaSets", NOW - 300)
