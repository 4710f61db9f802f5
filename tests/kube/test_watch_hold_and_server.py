"""Holding a watch's reading never blocks the API server's writes to it.

The API server closes a watcher whose socket stays full (its buffer of events for that
watcher overflows), and the informer then watches again or, its resourceVersion gone,
lists everything again. The hold between reads of a watch must therefore end before the
socket could fill, whatever the stream did before: a burst right after a quiet spell
included. Measured on the simulated server: its writer for the watch waits on the socket
while the events queued for that watch pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Job
from gitops_lifecycle.kube.resources import JOBS
from gitops_lifecycle.settings import KubernetesSettings
from gitops_lifecycle.simulation import SimulatedCluster
from tests.kube.test_informer import job, running, until
from tests.retry.services import make_tls

pytestmark = pytest.mark.looptime

WINDOW = 5.0  # the longest `kubernetes.watchBatchWindow` allows
BURST = 250
BIG = {f"k{index}": "v" * 2000 for index in range(20)}  # about 40 KB an object


@pytest.fixture
async def tls_kube(sim: SimulatedCluster, tmp_path: Path) -> AsyncIterator[Kube]:
    """Our client, talking to the simulated cluster over TLS, as to any real one."""
    tls = make_tls(tmp_path / "server")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert, tls.key)
    runner = web.AppRunner(sim.api.app(), handler_cancellation=True, access_log=None,
                           shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "certificate-authority": str(tls.ca)}}],
        "users": [{"name": "c", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c"}}],
    }))
    try:
        async with Kube.from_settings(KubernetesSettings(kubeconfig=config, qps=1000,
                                                         burst=1000)) as client:
            yield client
    finally:
        sim.faults.drop_watches(graceful=True)
        await runner.cleanup()


def _queued(sim: SimulatedCluster) -> int:
    """Events the simulated server holds for its watchers, not yet written to a socket."""
    return max((watcher.queue.qsize() for watcher in sim.faults.watchers), default=0)


async def _burst_after_quiet(sim: SimulatedCluster, kube: Kube, window: float) -> int:
    informer = Informer(kube=kube, resource=JOBS, record=Job, batch_window=window)
    async with running(informer) as recorder:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(30)  # a quiet spell: the stream's rate is nothing
        await asyncio.sleep(WINDOW - loop.time() % WINDOW + 0.01)
        sim.create(job("first"))  # read at once, then the reading is held
        await until(lambda: "default/first" in recorder.of("ADDED"))
        worst = 0
        for index in range(BURST):  # then 2 MB a second, for a whole window
            obj = job(f"burst-{index}")
            obj["metadata"]["annotations"] = BIG  # type: ignore[index]
            sim.create(obj)
            await asyncio.sleep(WINDOW / BURST)
            worst = max(worst, _queued(sim))
        await until(lambda: len(recorder.of("ADDED")) == BURST + 1)
    return worst


async def test_a_burst_after_a_quiet_spell_is_never_held_back_in_the_servers_queue(sim, kube):
    assert await _burst_after_quiet(sim, kube, WINDOW) <= 1


async def test_without_a_window_the_burst_flows_through(sim, kube):
    assert await _burst_after_quiet(sim, kube, 0.0) <= 1


async def test_over_tls_a_burst_after_a_quiet_spell_is_never_held_back_either(sim, tls_kube):
    assert await _burst_after_quiet(sim, tls_kube, WINDOW) <= 1


async def test_over_tls_events_that_keep_coming_are_still_read_together(sim, tls_kube):
    informer = Informer(kube=tls_kube, resource=JOBS, record=Job, batch_window=WINDOW)
    at: dict[str, float] = {}
    informer.subscribe(lambda kind, old, new: at.setdefault(
        new.metadata.name, asyncio.get_running_loop().time()) if new is not None else None)
    async with running(informer):
        loop = asyncio.get_running_loop()
        await asyncio.sleep(WINDOW - loop.time() % WINDOW + 0.01)
        for index in range(5):
            sim.create(job(f"trickle-{index}"))
            await asyncio.sleep(0.1)
        await until(lambda: len(at) == 5)
    assert len({at[f"trickle-{index}"] for index in range(1, 5)}) == 1
    assert at["trickle-1"] % WINDOW == pytest.approx(0, abs=1e-6)


async def test_a_connection_a_watch_gave_back_serves_the_next_watch_at_once(sim, kube):
    # The stream's last event and its end come in one read: the connection goes back to the
    # watches' pool at once, and what held the ended watch must not hold the next one.
    sim.ensure_namespaces("default")
    sim.create(job("seen"))
    events = kube.watch(JOBS, record=Job, resource_version="0", namespace="default",
                        batch_window=WINDOW)
    got = await anext(events)  # the watch's first event, its connection now in use
    assert got.object.metadata.name == "seen"  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    rest: list[str] = []

    async def follow() -> None:
        async for event in events:
            rest.append(event.object.metadata.name)  # type: ignore[union-attr]  # noqa: PERF401 - one by one, as they come

    following = asyncio.create_task(follow())
    await asyncio.sleep(3 * WINDOW)  # a quiet spell: nothing holds the stream now
    sim.create(job("last"))
    sim.faults.drop_watches(graceful=True)
    await until(lambda: rest == ["last"])
    start = loop.time()  # another informer starts its watch meanwhile, on that connection
    other = kube.watch(JOBS, record=Job, resource_version="0", namespace="default",
                       batch_window=WINDOW)
    async with contextlib.aclosing(other):
        await anext(other)
    assert loop.time() - start < 0.01
    await following
