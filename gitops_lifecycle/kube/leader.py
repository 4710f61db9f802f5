"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it.

A replica takes the Lease when it is free (no holder) or expired, renews it every retry
period, and stops acting when it could not renew within the renew deadline, so that it has
stopped before anyone else may take over. Every write carries the resourceVersion it read:
two replicas racing for the Lease get one success and one 409.

Time is never taken from another host. A standby times a Lease's expiry on its own monotonic
clock from the moment it last *observed* the Lease change (a new resourceVersion), and the
leader counts its renew deadline from the *start* of its last successful renewal, bounding
every renewal attempt by what is left of it. The leader's writes land no earlier than they
started and a standby observes them no earlier than they land, so the leader's term (last
renewal start + renewDeadline) ends before any standby's timer (observation + leaseDuration)
can run out. `Term` runs the controllers' writes: none starts or stays in flight past the
term. On shutdown the leader stops acting, waits until no write of its term can still land,
then clears the holder (client-go's ReleaseOnCancel) so that the standby takes over at once.
Only the leader's controllers act; informers run on every replica.

A Lease is this process's only if this process wrote its current version: a holder identity
equal to ours that someone else wrote (two replicas given one configured identity, or a
previous run of this pod) is another holder, whose lease is timed out like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.clock import Clock, format_time
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ClientError, ConflictError, KubeError, NotFoundError
from gitops_lifecycle.kube.records import Lease
from gitops_lifecycle.kube.resources import LEASES
from gitops_lifecycle.settings import JITTER_FACTOR, LeaderElectionSettings

log = logs.get("leader")

Callback = Callable[[], object]
T = TypeVar("T")


def default_identity() -> str:
    """The pod name (HOSTNAME) and a random suffix, unique even across restarts of one pod."""
    return f"{os.environ.get('HOSTNAME') or 'gitops-lifecycle'}_{secrets.token_hex(4)}"


def monotonic() -> float:
    """The event loop's monotonic clock (virtual under test, never another host's)."""
    return asyncio.get_running_loop().time()


class Flag:
    """A boolean that tasks can wait to become true or false."""

    def __init__(self) -> None:
        self._true = asyncio.Event()
        self._false = asyncio.Event()
        self._false.set()

    def __bool__(self) -> bool:
        return self._true.is_set()

    def set(self, value: bool) -> None:
        """Change the value and wake whoever waits for it."""
        (self._true if value else self._false).set()
        (self._false if value else self._true).clear()

    async def wait_true(self) -> None:
        """Return once the flag is true."""
        await self._true.wait()

    async def wait_false(self) -> None:
        """Return once the flag is false."""
        await self._false.wait()


class NotLeadingError(Exception):
    """A write refused, or given up, because this replica's term of leadership is over."""


def answered_by_kubernetes(exc: BaseException) -> bool:
    """Whether a failed write was refused by the API server itself (4xx): it did nothing."""
    return isinstance(exc, ClientError)


class Term:
    """Until when (event-loop time) this replica may act; `-inf` while it may not.

    Every write the leader's controllers make runs through `write`: none starts once the
    term is over, none stays in flight past it, and the term remembers when a write was last
    given up without the server's answer (cancelled, timed out, cut off, 5xx) — such a write
    may still land, so a leader shutting down does not hand the Lease over until it cannot.
    """

    def __init__(self) -> None:
        self.until = -math.inf
        self.unanswered_at = -math.inf
        """Monotonic time a write was last given up without an answer."""
        self._writing = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def deadline(self) -> float:
        """The loop time at which acting must have stopped (in the past: not acting)."""
        return self.until

    def acting(self) -> bool:
        """Whether this replica may act at this moment."""
        return monotonic() < self.until

    @property
    def writing(self) -> int:
        """Writes in flight now."""
        return self._writing

    async def write(self, action: Callable[[], Awaitable[T]], *,
                    answered: Callable[[BaseException], bool] = answered_by_kubernetes) -> T:
        """Run one write (`action()`, retries included) inside the term.

        `NotLeadingError` when the term is over before it starts or before it is answered.
        `answered(exc)` tells a failure the server answered (it did nothing) from one whose
        outcome is unknown.
        """
        deadline = self.until
        if monotonic() >= deadline:
            raise NotLeadingError("not leading: nothing is written")
        self._writing += 1
        self._idle.clear()
        settled = False
        try:
            async with asyncio.timeout_at(deadline) as scope:
                result = await action()
            settled = True
        except TimeoutError:
            if scope.expired():
                raise NotLeadingError("the term of leadership ended during a write") from None
            raise
        except Exception as exc:
            settled = answered(exc)
            raise
        finally:
            self._writing -= 1
            if not settled:
                self.unanswered_at = monotonic()
            if not self._writing:
                self._idle.set()
        return result

    async def settled(self, margin: float) -> None:
        """Return once no write is in flight and none was given up within `margin` seconds."""
        while True:
            await self._idle.wait()
            left = self.unanswered_at + margin - monotonic()
            if left <= 0 and not self._writing:
                return
            await asyncio.sleep(max(left, 0.0))


@dataclass(frozen=True)
class _Observed:
    """The Lease as last read: who holds it, for how long, and the version to write against."""

    holder: str
    duration: float
    transitions: int
    resource_version: str


class LeaderElector:
    """A `Component` that holds the Lease for this replica whenever it can."""

    name = "leader-election"

    def __init__(  # noqa: PLR0913 - the Lease, its timings, and who to tell
        self, *, kube: Kube, settings: LeaderElectionSettings, clock: Clock,
        identity: str | None = None, on_started_leading: Callback | None = None,
        on_stopped_leading: Callback | None = None,
    ) -> None:
        self.identity = identity or settings.identity or default_identity()
        self.is_leader = Flag()
        self.term = Term()
        self._kube = kube
        self._settings = settings
        self._clock = clock
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._observed: _Observed | None = None
        self._observed_at = -math.inf
        """Monotonic time this replica last saw the Lease change (not the holder's clock)."""
        self._written: str | None = None
        """The resourceVersion of the Lease as this process last wrote it."""
        self._failing = logs.Recurring(monotonic)

    async def run(self) -> None:
        """Acquire, renew until lost, and again; release the Lease when cancelled."""
        log.info("leader election started", identity=self.identity,
                 lease=f"{self._settings.lease_namespace}/{self._settings.lease_name}")
        try:
            while True:
                await self._acquire()
                self._transition(leading=True)
                await self._renew_until_lost()
                self._transition(leading=False)
        finally:
            if self.is_leader:
                ended = self.term.until
                self._transition(leading=False)  # stop acting before anyone may take over
                if await self._writes_settled(ended):
                    await self._release()

    async def _writes_settled(self, ended: float) -> bool:
        """Wait until no write of the term can still land; False if that takes too long.

        A write given up without an answer may reach the server later, but no later than a
        standby that saw the last renewal would wait past the term's end (leaseDuration -
        renewDeadline): released no sooner than that after such a write, the Lease passes
        with the margin a lost lease has.
        """
        margin = self._settings.lease_duration - self._settings.renew_deadline
        if self.term.writing or monotonic() < self.term.unanswered_at + margin:
            log.info("waiting for writes in flight to land before releasing the lease",
                     in_flight=self.term.writing)
        try:
            async with asyncio.timeout_at(max(ended, monotonic()) + margin):
                await self.term.settled(margin)
        except TimeoutError:
            log.warning("writes still in flight; the lease is left to expire")
            return False
        return True

    # --- acquiring and renewing --------------------------------------------------------------
    async def _acquire(self) -> None:
        """Return once this replica holds the Lease (with `term` set)."""
        while True:
            wait = self._jittered(self._settings.retry_period)
            started = monotonic()
            try:
                # No attempt outlives the renew deadline it would start the term with.
                async with asyncio.timeout(self._settings.renew_deadline):
                    taken = await self._try_acquire()
            except ConflictError:
                continue  # someone wrote between our read and write: read again at once
            except (KubeError, TimeoutError) as exc:
                error = str(exc) or "timed out"
                if (unsaid := self._failing.due(error)) is not None:
                    log.warning("could not read or take the lease", error=error,
                                repeated=unsaid)
            else:
                self._failing.clear()
                if taken:
                    self.term.until = started + self._settings.renew_deadline
                    if monotonic() < self.term.until:
                        return
                    continue
                observed = self._observed
                assert observed is not None
                # Try again right at its expiry if that is sooner than the next retry, or as
                # soon as the Lease changes: a leader shutting down clears its holder.
                wait = min(wait, max(0.0, self._expires() - monotonic()))
                await self._until_changed(observed.resource_version, wait)
                continue
            await asyncio.sleep(wait)

    def _expires(self) -> float:
        """When, on this replica's monotonic clock, the observed holder's lease runs out."""
        if self._observed is None:
            return -math.inf
        return self._observed_at + self._observed.duration

    @staticmethod
    def _jittered(seconds: float) -> float:
        return seconds * random.uniform(1.0, JITTER_FACTOR)  # noqa: S311 - spreads retries

    async def _until_changed(self, resource_version: str, wait: float) -> None:
        """Sleep `wait` seconds, or less if the Lease changes meanwhile."""
        sleeper = asyncio.ensure_future(asyncio.sleep(wait))
        watcher = asyncio.ensure_future(self._next_change(resource_version, wait))
        try:
            await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, watcher):
                task.cancel()
            await asyncio.gather(sleeper, watcher, return_exceptions=True)

    async def _next_change(self, resource_version: str, wait: float) -> None:
        """Return on the Lease's next change; never, if it cannot be watched."""
        events = self._kube.watch(
            LEASES, record=Lease, resource_version=resource_version,
            namespace=self._settings.lease_namespace, bookmarks=False,
            field_selector=f"metadata.name={self._settings.lease_name}",
            timeout_seconds=max(1, math.ceil(wait)),
        )
        with contextlib.suppress(KubeError):
            async with contextlib.aclosing(events):
                async for _event in events:
                    return
        await asyncio.Future()  # the timer decides

    async def _try_acquire(self) -> bool:
        """Take the Lease if it is free, ours, or expired by our own clock."""
        observed = await self._read()
        if observed is None:
            await self._write(None, transitions=0, acquired=True)
            return True
        ours = self._ours(observed)
        if observed.holder and not ours and monotonic() < self._expires():
            return False
        transitions = observed.transitions if ours else observed.transitions + 1
        await self._write(observed, transitions=transitions, acquired=not ours)
        if observed.holder and not ours:
            log.info("took over an expired lease", previous=observed.holder)
        return True

    async def _renew_until_lost(self) -> None:
        """Renew every retry period; return when a renewal failed for the renew deadline."""
        while True:
            try:
                # Everything up to the next successful renewal happens inside the term.
                async with asyncio.timeout_at(self.term.until):
                    renewed = await self._renew()
            except TimeoutError:
                log.error("could not renew the lease within the renew deadline")  # noqa: TRY400 - no traceback to show
                return
            if not renewed:
                return

    async def _renew(self) -> bool:
        """Wait a retry period, then renew until it works (True) or the Lease is lost."""
        await asyncio.sleep(self._settings.retry_period)
        while True:
            started = monotonic()
            outcome = await self._try_renew()
            if outcome == "renewed":
                self.term.until = started + self._settings.renew_deadline
                return True
            if outcome == "lost":
                return False
            await asyncio.sleep(min(self._settings.retry_period,
                                    self._settings.renew_deadline / 4))

    async def _try_renew(self) -> str:
        try:
            observed = await self._read()
            if observed is None or not self._ours(observed):
                log.warning("the lease was taken by another replica",
                            holder=observed.holder if observed else None,
                            same_identity=observed is not None
                            and observed.holder == self.identity)
                return "lost"
            await self._write(observed, transitions=observed.transitions, acquired=False)
        except KubeError as exc:
            log.warning("lease renewal failed", error=str(exc))
            return "failed"
        return "renewed"

    async def _release(self) -> None:
        """Clear the holder so a standby need not wait out the lease duration."""
        try:
            async with asyncio.timeout(self._settings.retry_period):
                observed = await self._read()
                if observed is None or not self._ours(observed):
                    return
                body = self._body(observed.resource_version, holder="", duration=1,
                                  transitions=observed.transitions, acquired=True)
                await self._put(body)
        except (KubeError, TimeoutError) as exc:
            log.warning("could not release the lease; the standby waits for it to expire",
                        error=str(exc))
        else:
            log.info("released the lease")

    def _transition(self, *, leading: bool) -> None:
        if not leading:
            self.term.until = -math.inf
        if bool(self.is_leader) == leading:
            return
        self.is_leader.set(leading)
        metrics.LEADER.set(1 if leading else 0)
        log.info("started leading" if leading else "stopped leading", identity=self.identity)
        callback = self._on_started if leading else self._on_stopped
        if callback is not None:
            callback()

    # --- the Lease object ---------------------------------------------------------------------
    def _ours(self, observed: _Observed) -> bool:
        """Whether this process wrote the Lease as it is (not merely under our identity)."""
        return (observed.holder == self.identity
                and observed.resource_version == self._written)

    async def _read(self) -> _Observed | None:
        """Read the Lease; note the moment it is first seen in a new version."""
        try:
            lease = await self._kube.get(LEASES, self._settings.lease_name, record=Lease,
                                         namespace=self._settings.lease_namespace)
        except NotFoundError:
            self._observed, self._observed_at = None, -math.inf
            return None
        spec = lease.spec
        observed = _Observed(
            holder=spec.holder_identity or "",
            duration=float(spec.lease_duration_seconds or self._settings.lease_duration),
            transitions=spec.lease_transitions,
            resource_version=lease.metadata.resource_version,
        )
        if self._observed is None or observed.resource_version != self._observed.resource_version:
            self._observed, self._observed_at = observed, monotonic()
        return observed

    async def _write(self, observed: _Observed | None, *, transitions: int,
                     acquired: bool) -> None:
        if observed is None:
            body = self._body(None, holder=self.identity, transitions=transitions,
                              acquired=acquired)
            created = await self._kube.create(LEASES, body, record=Lease,
                                              namespace=self._settings.lease_namespace)
            self._written = created.metadata.resource_version
            return
        body = self._body(observed.resource_version, holder=self.identity,
                          transitions=transitions, acquired=acquired)
        await self._put(body)

    async def _put(self, body: dict[str, Any]) -> None:
        written = await self._kube.replace(LEASES, self._settings.lease_name, body,
                                           record=Lease,
                                           namespace=self._settings.lease_namespace)
        self._written = written.metadata.resource_version

    def _body(self, resource_version: str | None, *, holder: str, transitions: int,
              acquired: bool, duration: int | None = None) -> dict[str, Any]:
        # The times written are informational (kubectl shows them); no replica times the
        # Lease by them. The duration is rounded up so that others never wait less than ours.
        now = self._clock.now()
        metadata: dict[str, Any] = {"name": self._settings.lease_name,
                                    "namespace": self._settings.lease_namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        spec: dict[str, Any] = {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration or max(1, math.ceil(self._settings.lease_duration)),
            "renewTime": format_time(now, micro=True),
            "leaseTransitions": transitions,
        }
        if acquired:
            spec["acquireTime"] = format_time(now, micro=True)
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": metadata, "spec": spec}
