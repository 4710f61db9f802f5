"""The deletion rate limit against the simulated cluster: a burst at once, then the rate."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from tests.cleanup.builders import HOUR, job_dict
from tests.cleanup.harness import cluster, running, settings

pytestmark = pytest.mark.looptime

JOBS = 50
RATE, BURST = 10, 20
SLACK = 0.05
"""Seconds a DELETE may trail its token: the request's own trip through the loop."""


async def test_jobs_expiring_in_the_same_second_are_deleted_at_the_token_bucket_rate(
    tmp_path: Path,
) -> None:
    config = settings(rateLimit={"perSecond": RATE, "burst": BURST})
    async with cluster() as sim:
        expires = math.floor(sim.clock.now()) + 100
        for index in range(JOBS):
            sim.create(job_dict(f"job-{index:02d}", finished=expires - HOUR))
        async with running(sim, tmp_path, config) as env:
            await asyncio.sleep(100 + (JOBS - BURST) / RATE + 5)
            deletes = env.deletes("jobs")
            assert env.names("batch/v1", "Job") == set()

    assert len(deletes) == JOBS
    assert all(r.status == 200 for r in deletes)
    times = sorted(r.time - expires for r in deletes)
    assert times[0] >= 0
    for index, at in enumerate(times):
        due = max(0, index + 1 - BURST) / RATE  # 20 tokens at once, then one every 0.1 s
        assert due - 1e-3 <= at <= due + SLACK, f"DELETE {index} at +{at:.3f}s, due +{due}s"
    for start, at in enumerate(times):
        for width in (0.0, 0.5, 1.0, 2.0):
            in_window = sum(1 for t in times[start:] if t <= at + width)
            assert in_window <= BURST + RATE * width
