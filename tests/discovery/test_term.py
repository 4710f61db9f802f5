"""Every write to Authentik, its retries included, happens inside the leader's term."""

from __future__ import annotations

import asyncio

import pytest

from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import UnavailableError
from gitops_lifecycle.discovery.term import gate
from gitops_lifecycle.kube.leader import Term
from gitops_lifecycle.simulation.authentik import SimulatedAuthentik
from tests.discovery.harness import settings

pytestmark = pytest.mark.looptime


def client(authentik: SimulatedAuthentik, term: Term) -> Authentik:
    config = settings(authentik)
    return Authentik(config.authentik, circuit=config.retry.circuit_breaker, gate=gate(term),
                     backoff=2.0)


async def test_a_write_retried_after_server_errors_is_not_sent_once_the_term_is_over(
    sim_authentik: SimulatedAuthentik,
) -> None:
    term = Term()
    loop = asyncio.get_running_loop()
    term.until = loop.time() + 1.5  # the retry after the first 503 waits 2 s to 4 s
    sim_authentik.faults.fail_all(503, method="PATCH")
    outpost = sim_authentik.outpost()["pk"]
    started = sim_authentik.clock.now()
    async with client(sim_authentik, term) as api:
        with pytest.raises(UnavailableError):
            await api.set_outpost_providers(outpost, [])
        await asyncio.sleep(30)
    sent = [r.time - started for r in sim_authentik.writes()]
    assert sent, "the first attempt was sent"
    assert all(at < 1.5 for at in sent), sent
    assert term.unanswered_at > -float("inf")  # 503: the outcome is not known


async def test_no_authentik_write_starts_outside_the_term_but_reads_do(
    sim_authentik: SimulatedAuthentik,
) -> None:
    async with client(sim_authentik, Term()) as api:
        assert await api.outposts()
        with pytest.raises(UnavailableError, match="not leading"):
            await api.set_outpost_providers(sim_authentik.outpost()["pk"], [])
    assert sim_authentik.writes() == []
