"""The informer against the simulated cluster: list, watch, resume, re-list, in virtual time."""

from __future__ import annotations

import asyncio
import gc
import itertools
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import count

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.clock import SimClock
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube import kept
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.records import Job, Object, Pod
from gitops_lifecycle.kube.resources import CONFIGMAPS, JOBS, PODS
from gitops_lifecycle.settings import KubernetesSettings, NamespaceScope
from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = pytest.mark.looptime

kept.label("x")  # the label these tests change and read back from the cache

_names = count()


def job(name: str, namespace: str = "default", **labels: str) -> dict[str, object]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}}}


def pod(name: str, namespace: str = "default") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCluster]:
    cluster = SimulatedCluster(clock=SimClock(), bookmark_interval=5, kubelet=False)
    await cluster.start()
    yield cluster
    await cluster.stop()


class Recorder:
    """Every change an informer reported, as (type, key, resourceVersion)."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str]] = []

    def __call__(self, kind: str, old: Job | None, new: Job | None) -> None:
        obj = new or old
        assert obj is not None
        self.changes.append((kind, obj.key, obj.metadata.resource_version))

    def of(self, kind: str) -> list[str]:
        return [key for change, key, _ in self.changes if change == kind]


@asynccontextmanager
async def running(informer: Informer[Job]) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    informer.subscribe(recorder)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.has_synced.wait(), 30)
        yield recorder
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def jobs_informer(kube: Kube, **options: object) -> Informer[Job]:
    return Informer(kube=kube, resource=JOBS, record=Job, **options)  # type: ignore[arg-type]


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def job_watches(sim: SimulatedCluster) -> list[dict[str, str]]:
    return [r.query for r in sim.requests if r.watch and "/jobs" in r.path]


async def test_initial_list_follows_continue_in_pages_of_500(sim, kube):
    for i in range(1203):
        sim.create(job(f"job-{i}"))
    async with running(jobs_informer(kube)) as recorder:
        assert len(recorder.of("ADDED")) == 1203
    lists = [r.query for r in sim.requests if "/jobs" in r.path and not r.watch]
    assert [q.get("limit") for q in lists] == ["500", "500", "500"]
    assert "continue" not in lists[0]
    assert all(q.get("continue") for q in lists[1:])


async def test_the_cache_holds_every_object_under_its_namespace_and_name(sim, kube):
    sim.create(job("a", "ns1"))
    sim.create(job("b", "ns2"))
    informer = jobs_informer(kube)
    async with running(informer):
        assert sorted(j.key for j in informer.values()) == ["ns1/a", "ns2/b"]
        assert informer.get("ns1/a") is not None
        assert informer.get("ns2/a") is None
        assert len(informer) == 2


async def test_watch_events_reach_the_cache_and_subscribers(sim, kube):
    informer = jobs_informer(kube)
    async with running(informer) as recorder:
        sim.create(job("a"))
        await until(lambda: "default/a" in informer)
        sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "y"}}}, namespace="default")
        await until(lambda: informer.get("default/a").metadata.labels == {"x": "y"})
        sim.delete("batch/v1", "Job", "a", namespace="default")
        await until(lambda: "default/a" not in informer)
    assert [kind for kind, _, _ in recorder.changes] == ["ADDED", "MODIFIED", "DELETED"]


async def test_a_dropped_watch_resumes_from_the_last_version_without_losses_or_duplicates(
        sim, kube):
    informer = jobs_informer(kube)
    async with running(informer) as recorder:
        sim.create(job("a"))
        await until(lambda: "default/a" in informer)
        last_seen = informer.get("default/a").metadata.resource_version
        assert sim.faults.drop_watches() == 1
        sim.create(job("b"))
        sim.patch("batch/v1", "Job", "a", {"metadata": {"labels": {"x": "y"}}}, namespace="default")
        await until(lambda: "default/b" in informer and informer.get("default/a").metadata.labels)
    assert job_watches(sim)[-1]["resourceVersion"] == last_seen
    assert len(recorder.changes) == len(set(recorder.changes)) == 3
    assert [kind for kind, _, _ in recorder.changes] == ["ADDED", "ADDED", "MODIFIED"]
    assert not [r for r in sim.requests if "/jobs" in r.path and not r.watch][1:], "no re-list"


async def test_gone_relists_and_reports_objects_deleted_meanwhile(sim, kube):
    for name in ("keep", "gone"):
        sim.create(job(name))
    informer = jobs_informer(kube)
    relists = sample("gitops_informer_relists_total", {"kind": "Job"})
    async with running(informer) as recorder:
        # Nothing runs between these lines: the informer cannot see the delete.
        sim.faults.drop_watches()
        sim.delete("batch/v1", "Job", "gone", namespace="default")
        sim.create(job("new"))
        sim.faults.compact()
        await until(lambda: "default/new" in informer)
        assert "default/gone" not in informer
        assert "default/keep" in informer
    assert recorder.of("DELETED") == ["default/gone"]
    assert sorted(recorder.of("ADDED")) == ["default/gone", "default/keep", "default/new"]
    assert sample("gitops_informer_relists_total", {"kind": "Job"}) == relists + 1


def test_re_list_and_watch_restart_counters_start_at_zero_for_the_informers_kind(kube):
    # A counter first exported at 1 hides that first re-list from rate() and increase(), and
    # leaves the dashboard's panel empty while the watches are healthy.
    names = ("gitops_informer_relists_total", "gitops_informer_watch_restarts_total")
    assert [REGISTRY.get_sample_value(n, {"kind": "ConfigMap"}) for n in names] == [None, None]
    Informer(kube=kube, resource=CONFIGMAPS, record=Object)
    assert [REGISTRY.get_sample_value(n, {"kind": "ConfigMap"}) for n in names] == [0.0, 0.0]


async def test_an_expired_continue_token_restarts_the_list_from_the_start(sim, kube):
    for i in range(5):
        sim.create(job(f"job-{i}"))
    informer = jobs_informer(kube, page_size=2)
    expired = False

    def expire_after_the_first_page(kind: str, old: Job | None, new: Job | None) -> None:
        nonlocal expired
        if not expired:
            expired = True
            sim.faults.expire_continue_tokens()
            sim.delete("batch/v1", "Job", "job-0", namespace="default")

    informer.subscribe(expire_after_the_first_page)
    async with running(informer) as recorder:
        assert sorted(informer.get(f"default/job-{i}") is not None for i in range(5)) == [
            False, True, True, True, True]
    assert recorder.of("DELETED") == ["default/job-0"]
    statuses = [r.status for r in sim.requests if "/jobs" in r.path and not r.watch]
    assert statuses == [200, 410, 200, 200]


async def test_bookmarks_advance_the_version_the_next_watch_starts_from(sim, kube):
    informer = jobs_informer(kube)
    async with running(informer):
        await until(lambda: len(job_watches(sim)) == 1)
        first = job_watches(sim)[0]["resourceVersion"]
        sim.create(pod("p"))  # another kind moves the global resourceVersion on
        bookmarked = str(sim.resource_version)
        await asyncio.sleep(6)  # one bookmark interval of the simulated server
        sim.faults.drop_watches()
        await until(lambda: len(job_watches(sim)) == 2)
    assert job_watches(sim)[0]["allowWatchBookmarks"] == "true"
    assert int(bookmarked) > int(first)
    assert job_watches(sim)[1]["resourceVersion"] == bookmarked


async def test_a_list_that_fails_is_retried_with_backoff_and_honours_retry_after(sim, kube):
    sim.create(job("a"))
    sim.faults.fail_next(2, 500, path="/jobs")
    sim.faults.fail_next(1, 429, path="/jobs", retry_after=7)
    informer = jobs_informer(kube)
    async with running(informer):
        assert "default/a" in informer
    lists = [r for r in sim.requests if "/jobs" in r.path and not r.watch]
    assert [r.status for r in lists] == [500, 500, 429, 200]
    assert lists[3].time - lists[2].time == pytest.approx(7, abs=0.01)
    assert 0 < lists[1].time - lists[0].time < 7


async def test_readiness_fails_until_the_first_list_is_complete(sim, kube):
    health = Health()
    sim.faults.fail_next(1, 503, path="/jobs")
    informer = jobs_informer(kube, health=health)
    assert health.report("readyz")[0] is False
    assert "[-]informer:jobs failed" in health.report("readyz")[1]
    async with running(informer):
        assert health.report("readyz") == (True, "[+]informer:jobs ok\nreadyz check passed\n")


async def test_excluded_namespaces_never_reach_the_cache(sim, kube):
    sim.create(job("a", "kept"))
    sim.create(job("b", "kube-system"))
    informer = jobs_informer(kube, namespaces=NamespaceScope(exclude=["kube-system"]))
    async with running(informer):
        sim.create(job("c", "kube-system"))
        sim.create(job("d", "kept"))
        await until(lambda: "kept/d" in informer)
        assert sorted(j.key for j in informer.values()) == ["kept/a", "kept/d"]


async def test_included_namespaces_are_listed_and_watched_one_by_one(sim, kube):
    for namespace in ("one", "two", "three"):
        sim.create(job("a", namespace))
    informer = jobs_informer(kube, namespaces=NamespaceScope(include=["one", "two"]))
    async with running(informer):
        sim.create(job("b", "two"))
        await until(lambda: "two/b" in informer)
        assert sorted(j.key for j in informer.values()) == ["one/a", "two/a", "two/b"]
    paths = {r.path for r in sim.requests if "/jobs" in r.path}
    assert paths == {"/apis/batch/v1/namespaces/one/jobs", "/apis/batch/v1/namespaces/two/jobs"}


async def test_selectors_are_sent_to_the_server(sim, kube):
    sim.create(job("a", app="x"))
    sim.create(job("b", app="y"))
    informer = jobs_informer(kube, label_selector="app=x",
                             field_selector="metadata.namespace=default")
    async with running(informer):
        assert [j.key for j in informer.values()] == ["default/a"]
    first = next(r.query for r in sim.requests if "/jobs" in r.path)
    assert first["labelSelector"] == "app=x"
    assert first["fieldSelector"] == "metadata.namespace=default"


async def test_a_failing_subscriber_does_not_stop_the_informer(sim, kube):
    informer = Informer(kube=kube, resource=PODS, record=Pod)

    def broken(kind: str, old: Pod | None, new: Pod | None) -> None:
        raise RuntimeError("subscriber bug")

    informer.subscribe(broken)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.has_synced.wait(), 30)
        sim.create(pod("p"))
        await until(lambda: "default/p" in informer)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def is_watch(request: object) -> bool:
    return getattr(request, "query", {}).get("watch") == "true"


async def test_a_watch_answering_410_every_time_relists_with_backoff_not_in_a_storm(
        sim, kubeconfig):
    sim.create(job("a"))
    relists = sample("gitops_informer_relists_total", {"kind": "Job"})
    sim.faults.fail_next(10**9, 410, path=is_watch)
    settings = KubernetesSettings(kubeconfig=kubeconfig)  # the default QPS limit
    async with Kube.from_settings(settings) as client:
        informer = jobs_informer(client)
        async with running(informer):
            await asyncio.sleep(60)
    lists = [r for r in sim.requests if "/jobs" in r.path and not r.watch]
    assert 3 <= len(lists) <= 12  # 0.8 s doubling to 30 s, with jitter: about 7 a minute
    gaps = [b.time - a.time for a, b in itertools.pairwise(lists)]
    assert gaps == sorted(gaps)
    assert gaps[0] >= 0.8
    assert sample("gitops_informer_relists_total", {"kind": "Job"}) - relists == len(lists) - 1


async def test_a_watch_gone_silent_is_restarted_from_its_last_version_within_two_bookmark_intervals(
        sim, kube):
    # The simulated server bookmarks every 5 s; the informer expects a real server's minute.
    informer = jobs_informer(kube)
    async with running(informer):
        sim.create(job("a"))
        await until(lambda: "default/a" in informer)
        last_seen = informer.get("default/a").metadata.resource_version
        assert sim.faults.silence_watches() == 1
        sim.create(job("b"))
        started = asyncio.get_running_loop().time()
        await until(lambda: "default/b" in informer, timeout=600)
        waited = asyncio.get_running_loop().time() - started
    assert waited <= 2 * 60 + 5
    assert int(job_watches(sim)[-1]["resourceVersion"]) >= int(last_seen)
    assert not [r for r in sim.requests if "/jobs" in r.path and not r.watch][1:], "no re-list"


async def test_readiness_fails_while_an_informer_hears_nothing_and_recovers(sim, kube):
    health = Health()
    informer = jobs_informer(kube, health=health, bookmark_interval=5)
    async with running(informer):
        assert health.report("readyz")[0] is True
        await until(lambda: informer.watching)
        sim.faults.fail_next(10**9, 503, path=is_watch)
        sim.faults.silence_watches()
        await asyncio.sleep(30)
        healthy, body = health.report("readyz")
        assert healthy is False
        assert "no event or bookmark for" in body
        assert not informer.watching
        sim.faults.clear()
        await until(lambda: health.report("readyz")[0], timeout=60)
        assert informer.watching
        assert asyncio.get_running_loop().time() - informer.last_heard < 10


def undecodable_job(name: str) -> dict[str, object]:
    # Valid JSON the API server would store for a CRD's object, but not what the record reads.
    return {**job(name), "status": None}


async def test_an_object_that_cannot_be_decoded_is_skipped_not_the_stream(sim, kube):
    sim.create(undecodable_job("odd-listed"), validate=False)
    sim.create(job("a"))
    skipped = sample("gitops_informer_undecodable_objects_total", {"kind": "Job"})
    informer = jobs_informer(kube)
    async with running(informer):
        assert [j.key for j in informer.values()] == ["default/a"]
        sim.create(undecodable_job("odd-watched"), validate=False)
        sim.create(job("b"))
        await until(lambda: "default/b" in informer)
        sim.patch("batch/v1", "Job", "a", {"status": {"conditions": "odd"}}, namespace="default",
                  subresource="status", validate=False)
        sim.create(job("c"))
        await until(lambda: "default/c" in informer)
        assert "default/a" not in informer  # its cached version is stale, not trusted
        assert informer.watching
    assert len(job_watches(sim)) == 1
    assert sample("gitops_informer_undecodable_objects_total", {"kind": "Job"}) - skipped == 3


async def test_a_quiet_watch_stays_live_between_bookmarks_when_the_clock_runs_fast(sim, kube):
    # The demo runs its clock 600 times faster: two bookmark intervals of that clock are 0.2 s,
    # while the server still bookmarks once a minute of real time.
    health = Health()
    informer = jobs_informer(kube, health=health, clock=SimClock(speed=600))
    async with running(informer):
        await until(lambda: informer.watching)
        live = []
        for _ in range(40):  # nothing changes for a minute: no event, one bookmark
            await asyncio.sleep(1.5)
            live.append(informer.watching and health.report("readyz")[0])
        assert all(live)


async def test_the_objects_gauge_follows_the_cache(sim, kube):
    sim.create(job("listed"))
    informer = jobs_informer(kube)
    async with running(informer):
        assert _objects_gauge() == 1
        sim.create(job("watched"))
        await until(lambda: _objects_gauge() == 2)
        sim.delete("batch/v1", "Job", "listed", namespace="default")
        await until(lambda: _objects_gauge() == 1)


async def test_the_objects_gauge_keeps_no_informer_alive(sim, kube):
    informer = jobs_informer(kube)
    gone = weakref.ref(informer)
    del informer
    gc.collect()
    assert gone() is None
    assert _objects_gauge() == 0


def _objects_gauge() -> float | None:
    return REGISTRY.get_sample_value("gitops_informer_objects", {"kind": "Job"})
