"""The reconcile queue's workqueue semantics, in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import count, pairwise

import pytest
from prometheus_client import REGISTRY

from gitops_lifecycle.clock import Clock, SimClock
from gitops_lifecycle.kube.queue import DONE, Backoff, ReconcileQueue, RequeueAt, Result

pytestmark = pytest.mark.looptime

_names = count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def reconciles(controller: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "gitops_reconcile_total", {"controller": controller, "result": result}
    )
    return value or 0.0


@asynccontextmanager
async def running(queue: ReconcileQueue[str]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(queue.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def recorder(
    clock: SimClock, outcome: Callable[[str, int], Result] | None = None
) -> tuple[dict[str, list[float]], Callable[[str], object]]:
    calls: dict[str, list[float]] = {}

    async def reconcile(key: str) -> Result:
        calls.setdefault(key, []).append(clock.now())
        return DONE if outcome is None else outcome(key, len(calls[key]))

    return calls, reconcile


async def test_a_key_added_many_times_while_waiting_is_reconciled_once() -> None:
    clock = SimClock(start=0)
    calls, reconcile = recorder(clock)
    queue: ReconcileQueue[str] = ReconcileQueue(
        name=unique("dedup"), reconcile=reconcile, clock=clock, workers=3
    )
    for _ in range(5):
        queue.add("ns/a")
    queue.add("ns/b")
    assert len(queue) == 2
    async with running(queue):
        await asyncio.sleep(1)
    assert {key: len(times) for key, times in calls.items()} == {"ns/a": 1, "ns/b": 1}


async def test_a_key_is_never_reconciled_by_two_workers_at_once() -> None:
    clock = SimClock(start=0)
    active: set[str] = set()
    overlaps: list[str] = []
    calls: list[float] = []

    async def reconcile(key: str) -> Result:
        if key in active:
            overlaps.append(key)
        active.add(key)
        calls.append(clock.now())
        await asyncio.sleep(10)
        active.discard(key)
        return DONE

    queue: ReconcileQueue[str] = ReconcileQueue(
        name=unique("exclusive"), reconcile=reconcile, clock=clock, workers=4
    )
    queue.add("ns/a")
    async with running(queue):
        await asyncio.sleep(1)
        queue.add("ns/a")  # changed while being reconciled
        queue.add("ns/a")
        await asyncio.sleep(30)
    assert overlaps == []
    assert calls == [pytest.approx(0), pytest.approx(10)]


async def test_failures_back_off_from_5ms_doubling_to_a_5_minute_cap() -> None:
    clock = SimClock(start=0)
    name = unique("backoff")

    def fail(_key: str, _attempt: int) -> Result:
        raise RuntimeError("boom")

    calls, reconcile = recorder(clock, fail)
    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    queue.add("ns/a")
    async with running(queue):
        await asyncio.sleep(1000)
    times = calls["ns/a"]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    expected = [min(0.005 * 2**n, 300.0) for n in range(len(gaps))]
    assert gaps == pytest.approx(expected, abs=1e-5)
    assert gaps[-1] == pytest.approx(300)
    assert len(gaps) >= 18  # 5 ms, 10 ms … 163.84 s, then 300 s
    assert reconciles(name, "error") == len(times)


async def test_success_resets_the_backoff_of_that_key_only() -> None:
    clock = SimClock(start=0)

    def outcome(key: str, attempt: int) -> Result:
        if key == "ns/a" and attempt == 3:
            return DONE
        raise RuntimeError("boom")

    calls, reconcile = recorder(clock, outcome)
    queue: ReconcileQueue[str] = ReconcileQueue(
        name=unique("reset"), reconcile=reconcile, clock=clock
    )
    queue.add("ns/a")
    queue.add("ns/b")
    async with running(queue):
        await asyncio.sleep(0.1)
        assert queue.failures("ns/a") == 0
        assert queue.failures("ns/b") > 2
        queue.add("ns/a")
        await asyncio.sleep(0.001)
        assert queue.failures("ns/a") == 1
        started = calls["ns/a"][-1]
        await asyncio.sleep(0.01)
    assert calls["ns/a"][4] - started == pytest.approx(0.005, abs=1e-5)


async def test_a_requeue_at_time_t_reconciles_the_key_again_exactly_at_t() -> None:
    clock = SimClock(start=1_000_000)
    name = unique("requeue")

    def outcome(_key: str, attempt: int) -> Result:
        return RequeueAt(1_000_060) if attempt == 1 else DONE

    calls, reconcile = recorder(clock, outcome)
    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    queue.add("ns/a")
    async with running(queue):
        await asyncio.sleep(59)
        assert len(calls["ns/a"]) == 1
        await asyncio.sleep(100)
    assert calls["ns/a"] == [pytest.approx(1_000_000), pytest.approx(1_000_060)]
    assert reconciles(name, "requeue") == 1
    assert reconciles(name, "success") == 1


async def test_a_requeue_time_already_past_reconciles_at_once() -> None:
    clock = SimClock(start=500)

    def outcome(_key: str, attempt: int) -> Result:
        return RequeueAt(100) if attempt == 1 else DONE

    calls, reconcile = recorder(clock, outcome)
    queue: ReconcileQueue[str] = ReconcileQueue(
        name=unique("past"), reconcile=reconcile, clock=clock
    )
    queue.add("ns/a")
    async with running(queue):
        await asyncio.sleep(0.001)
    assert calls["ns/a"] == [pytest.approx(500), pytest.approx(500)]


async def test_the_earliest_pending_time_of_a_key_wins() -> None:
    clock = SimClock(start=0)
    calls, reconcile = recorder(clock)
    queue: ReconcileQueue[str] = ReconcileQueue(
        name=unique("earliest"), reconcile=reconcile, clock=clock
    )
    queue.add_at("ns/a", 50)
    queue.add_after("ns/a", 20)
    queue.add_at("ns/a", 80)
    async with running(queue):
        await asyncio.sleep(100)
    assert calls["ns/a"] == [pytest.approx(20)]


async def test_an_exception_is_counted_and_other_keys_carry_on() -> None:
    clock = SimClock(start=0)
    name = unique("errors")

    def outcome(key: str, _attempt: int) -> Result:
        if key == "ns/bad":
            raise ValueError("broken object")
        return DONE

    calls, reconcile = recorder(clock, outcome)
    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    queue.add("ns/bad")
    async with running(queue) as task:
        await asyncio.sleep(1)
        for index in range(10):
            queue.add(f"ns/good-{index}")
        await asyncio.sleep(1)
        assert not task.done()
    assert all(len(calls[f"ns/good-{index}"]) == 1 for index in range(10))
    assert reconciles(name, "success") == 10
    assert reconciles(name, "error") == len(calls["ns/bad"]) > 5


async def test_a_cancelled_reconcile_stops_the_queue_without_counting_an_error() -> None:
    clock = SimClock(start=0)
    name = unique("cancel")
    started = asyncio.Event()

    async def reconcile(_key: str) -> Result:
        started.set()
        await asyncio.sleep(3600)
        return DONE

    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    queue.add("ns/a")
    async with running(queue):
        await started.wait()
    assert reconciles(name, "error") == 0


def test_backoff_doubles_per_key_and_is_capped() -> None:
    backoff: Backoff[str] = Backoff(base=0.005, cap=300)
    delays = [backoff.next_delay("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 300
    assert backoff.next_delay("b") == 0.005
    backoff.forget("a")
    assert backoff.next_delay("a") == 0.005


async def test_retries_that_end_in_success_feed_the_retry_metrics() -> None:
    clock = SimClock(start=0)
    name = unique("flaky")
    labels = {"operation": f"kubernetes:{name}", "namespace": "shop"}

    def outcome(_key: str, attempt: int) -> Result:
        if attempt <= 3:
            raise ConnectionError("API server unavailable")
        return DONE

    calls, reconcile = recorder(clock, outcome)
    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    queue.add("shop/job-1")
    async with running(queue):
        await asyncio.sleep(1)
    assert len(calls["shop/job-1"]) == 4
    assert REGISTRY.get_sample_value("gitops_retry_attempts_total", labels) == 4
    assert REGISTRY.get_sample_value("gitops_retry_success_total", labels) == 1
    duration = REGISTRY.get_sample_value("gitops_retry_duration_seconds_sum", labels)
    assert duration == pytest.approx(calls["shop/job-1"][-1] - calls["shop/job-1"][0])


async def test_keys_that_never_fail_leave_the_retry_metrics_alone() -> None:
    clock = SimClock(start=0)
    name = unique("steady")
    _, reconcile = recorder(clock)
    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    queue.add("shop/job-1")
    async with running(queue):
        await asyncio.sleep(1)
    labels = {"operation": f"kubernetes:{name}", "namespace": "shop"}
    assert REGISTRY.get_sample_value("gitops_retry_attempts_total", labels) is None


class SteppedBackClock(Clock):
    """The real clock (virtual loop time under looptime), its wall time stepped back by `step`."""

    def __init__(self) -> None:
        self.step = 0.0

    def now(self) -> float:
        return super().now() - self.step


async def test_a_retry_waits_its_backoff_even_when_the_wall_clock_steps_back() -> None:
    clock = SteppedBackClock()
    loop = asyncio.get_running_loop()
    attempts: list[float] = []

    async def reconcile(key: str) -> Result:
        attempts.append(loop.time())
        if len(attempts) == 1:
            # NTP steps the wall clock back an hour while the retry waits its backoff.
            loop.call_soon(setattr, clock, "step", 3600)
            raise RuntimeError("transient")
        return DONE

    queue: ReconcileQueue[str] = ReconcileQueue(name=unique("stepped"), reconcile=reconcile,
                                                clock=clock)
    queue.add("a")
    async with running(queue):
        await asyncio.sleep(10)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] < 0.1


async def test_forgetting_a_key_drops_its_timer_its_backoff_and_its_pending_reconcile() -> None:
    clock = SimClock(start=0)
    calls, reconcile = recorder(clock)
    queue: ReconcileQueue[str] = ReconcileQueue(name=unique("forget"), reconcile=reconcile,
                                                clock=clock)
    for i in range(2000):
        queue.add_at(f"later-{i}", 3600)
    queue.add("now")
    assert queue.timers == 2000
    for i in range(2000):
        queue.forget(f"later-{i}")
    queue.forget("now")
    assert queue.timers == 0
    async with running(queue):
        await asyncio.sleep(7200)
    assert calls == {}


class SteppedClock(Clock):
    """The real clock (virtual loop time under looptime), its wall time stepped by `step`."""

    def __init__(self) -> None:
        self.step = 0.0

    def now(self) -> float:
        return super().now() + self.step


async def test_a_wall_clock_step_changes_neither_retry_durations_nor_how_long_keys_fail() -> None:
    clock = SteppedClock()
    name = unique("stepped")

    async def reconcile(key: str) -> Result:
        if attempts.setdefault(key, 0) == 0:
            attempts[key] += 1
            clock.step += 3600  # NTP steps the wall clock an hour while the key is failing
            raise RuntimeError("a transient failure")
        return DONE

    attempts: dict[str, int] = {}
    queue: ReconcileQueue[str] = ReconcileQueue(name=name, reconcile=reconcile, clock=clock)
    labels = {"operation": f"kubernetes:{name}", "namespace": "ns"}
    queue.add("ns/a")
    queue.retry("other/b", at_least=60)
    clock.step -= 7200  # and back two hours
    async with running(queue):
        await asyncio.sleep(1)
        since = queue.failing_since()
        assert since is not None
        assert clock.monotonic() - since == pytest.approx(1, abs=0.1)
        await asyncio.sleep(60)
    durations = [REGISTRY.get_sample_value("gitops_retry_duration_seconds_sum",
                                           {**labels, "namespace": namespace})
                 for namespace in ("ns", "other")]
    assert durations == [pytest.approx(0.005, abs=0.01), pytest.approx(60, abs=0.1)]
