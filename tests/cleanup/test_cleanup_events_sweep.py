"""The Events sweep: counts that survive a restarted list, and the daemon's namespace scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_lifecycle.cleanup.events import EventsController
from gitops_lifecycle.settings import Settings
from tests.cleanup.builders import HOUR, event_dict, job_dict
from tests.cleanup.harness import cluster, running, settings
from tests.cleanup.test_cleanup_transient_errors import namespace, only

pytestmark = pytest.mark.looptime

DAY = 24 * HOUR


def events_controller(env: Any) -> EventsController:
    found = next(c for c in env.components if isinstance(c, EventsController))
    found._page_size = 4  # small pages, so that a list spans several
    return found


async def test_item8_an_expired_continue_token_restarts_the_counts_no_double_deletes(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(10):
            sim.create(event_dict(f"old-{index}", last=now - 2 * DAY))
        async with running(sim, tmp_path, settings(**only("events")), start=False) as env:
            sweeper = events_controller(env)
            sim.faults.fail_next(1, 410, method="GET", path=r"continue=")
            assert await sweeper.sweep() == 0
        assert sim.list("v1", "Event") == []
        assert len(env.deletes("events")) == 10


async def test_item8_an_expired_continue_token_cannot_dilute_the_guard(tmp_path: Path) -> None:
    async with cluster() as sim:
        namespace(sim)
        now = sim.clock.now()
        for index in range(6):
            sim.create(event_dict(f"a-recent-{index}", last=now - 60))
        for index in range(8):
            sim.create(event_dict(f"b-old-{index}", last=now - 2 * DAY))
        config = settings(**only("events"), blastRadius={"maxShare": 0.5, "maxCount": 5})
        async with running(sim, tmp_path, config, start=False) as env:
            sweeper = events_controller(env)
            sim.faults.fail_next(1, 410, method="GET", path=r"continue=.*")
            await sweeper.sweep()
        assert env.deletes("events") == [], "8 of 14 is over both limits: nothing deleted"


async def test_item9_the_events_sweep_keeps_out_of_namespaces_the_daemon_does_not_watch(
    tmp_path: Path,
) -> None:
    async with cluster() as sim:
        for name in ("default", "kube-system"):
            namespace(sim, name)
        now = sim.clock.now()
        sim.create(event_dict("old", namespace="default", last=now - 2 * DAY))
        sim.create(event_dict("old-system", namespace="kube-system", last=now - 2 * DAY))
        sim.create(job_dict("job-system", namespace="kube-system", finished=now - 2 * DAY))
        config = Settings.model_validate({
            "kubernetes": {"namespaces": {"exclude": ["kube-system"]},
                           "leaderElection": {"enabled": False}},
            "cleanup": {},
        })
        async with running(sim, tmp_path, config, start=False) as env:
            sweeper = events_controller(env)
            await sweeper.sweep()
        assert {e["metadata"]["name"] for e in sim.list("v1", "Event")} == {"old-system"}
        assert sim.get("batch/v1", "Job", "job-system", "kube-system") is not None
