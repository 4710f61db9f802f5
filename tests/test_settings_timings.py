"""Lease timings, intervals and TTLs that cannot work are rejected at start-up, by key."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from gitops_lifecycle.settings import SettingsError, load

LEASE = "kubernetes.leaderElection"


def _election(**timings: Any) -> dict[str, Any]:
    return {"kubernetes": {"leaderElection": timings}}


@pytest.mark.parametrize(("overrides", "key"), [
    (_election(leaseDuration=15, renewDeadline=60, retryPeriod=30), f"{LEASE}.renewDeadline"),
    (_election(leaseDuration=15, renewDeadline=15), f"{LEASE}.renewDeadline"),
    (_election(renewDeadline=10, retryPeriod=10), f"{LEASE}.retryPeriod"),
    (_election(renewDeadline=10, retryPeriod=9), f"{LEASE}.retryPeriod"),  # jitter 1.2
    (_election(retryPeriod=0), f"{LEASE}.retryPeriod"),
    (_election(leaseDuration=0), f"{LEASE}.leaseDuration"),
    ({"cleanup": {"controller": {"interval": 0}}}, "cleanup.controller.interval"),
    ({"cleanup": {"controller": {"interval": "0.5s"}}}, "cleanup.controller.interval"),
    ({"cleanup": {"controller": {"policies": {"events": {"interval": 0}}}}},
     "cleanup.controller.policies.events.interval"),
    ({"cleanup": {"controller": {"policies": {"events": {"ttl": 0}}}}},
     "cleanup.controller.policies.events.ttl"),
    ({"cleanup": {"controller": {"policies": {"completedJobs": {"ttl": 0}}}}},
     "cleanup.controller.policies.completedJobs.ttl"),
    ({"cleanup": {"controller": {"policies": {"failedJobs": {"ttl": "0s"}}}}},
     "cleanup.controller.policies.failedJobs.ttl"),
    ({"cleanup": {"blastRadius": {"window": 0}}}, "cleanup.blastRadius.window"),
    ({"kubernetes": {"watchBatchWindow": "-1s"}}, "kubernetes.watchBatchWindow"),
    ({"kubernetes": {"watchBatchWindow": "1m"}}, "kubernetes.watchBatchWindow"),
])
def test_item3_impossible_timings_are_rejected_naming_the_key(
    overrides: dict[str, Any], key: str
) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load(overrides=overrides)


def test_item3_lease_timings_in_client_go_proportions_are_accepted() -> None:
    settings = load(overrides=_election(leaseDuration=3, renewDeadline=2, retryPeriod=0.4))
    election = settings.kubernetes.leader_election
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (
        3, 2, 0.4)


def test_item3_check_config_and_the_daemon_exit_2_on_an_impossible_lease() -> None:
    env = dict(os.environ, GITOPS_LIFECYCLE_KUBERNETES__LEADERELECTION__RENEWDEADLINE="60s")
    for command in ("check-config", "run"):
        result = subprocess.run(
            [sys.executable, "-m", "gitops_lifecycle", command], capture_output=True,
            text=True, env=env, check=False, timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "kubernetes.leaderElection.renewDeadline" in result.stderr


def test_item9_a_cleanup_scope_outside_every_watched_namespace_is_rejected() -> None:
    overrides = {"kubernetes": {"namespaces": {"include": ["apps"]}},
                 "cleanup": {"namespaces": {"include": ["batch"]}}}
    with pytest.raises(SettingsError, match=r"cleanup\.namespaces\.include: none"):
        load(overrides=overrides)


def test_item9_cleanup_acts_only_where_both_scopes_allow() -> None:
    settings = load(overrides={
        "kubernetes": {"namespaces": {"include": ["apps", "batch"], "exclude": ["batch"]}},
        "cleanup": {"namespaces": {"exclude": ["kube-system"]}},
    })
    scope = settings.cleanup_scope().namespaces
    assert [n for n in ("apps", "batch", "kube-system", "other") if scope.allows(n)] == ["apps"]
