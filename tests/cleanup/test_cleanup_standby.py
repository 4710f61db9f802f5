"""A paused controller (this replica does not lead) keeps no backlog of changed keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cleanup.builders import job_dict
from tests.cleanup.harness import cluster, running, settings
from tests.cleanup.test_cleanup_transient_errors import namespace, only

pytestmark = pytest.mark.looptime


async def test_a_paused_controller_does_not_queue_the_churn_it_sees(tmp_path: Path) -> None:
    async with cluster() as sim:
        namespace(sim)
        async with running(sim, tmp_path, settings(**only("completedJobs")),
                           start=False) as env:
            informers = [asyncio.create_task(i.run()) for i in env.informers.values()]
            controller = env.components[0]
            term = asyncio.create_task(controller.run())
            await asyncio.sleep(5)
            term.cancel()  # leadership lost: the controller is paused
            await asyncio.gather(term, return_exceptions=True)
            for index in range(500):
                sim.create(job_dict(f"job-{index}"))
            await asyncio.sleep(30)
            for index in range(500):
                sim.delete("batch/v1", "Job", f"job-{index}", namespace="default")
            await asyncio.sleep(30)
            assert len(controller.queue) == 0
            for task in informers:
                task.cancel()
            await asyncio.gather(*informers, return_exceptions=True)
