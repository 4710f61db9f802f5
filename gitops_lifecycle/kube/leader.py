"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it.

A replica takes the Lease when it is free (no holder) or expired (its renewTime plus its
leaseDurationSeconds has passed), renews it every retry period, and steps down when it could
not renew within the renew deadline, so that it stops acting before anyone else may take
over. Every write carries the resourceVersion it read: two replicas racing for the Lease get
one success and one 409. On shutdown the leader clears the holder (client-go's
ReleaseOnCancel), so the standby takes over at its next try instead of after the lease
duration. Only the leader's controllers act; informers run on every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.clock import Clock, format_time
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ConflictError, KubeError, NotFoundError
from gitops_lifecycle.kube.records import Lease
from gitops_lifecycle.kube.resources import LEASES
from gitops_lifecycle.settings import LeaderElectionSettings

log = logs.get("leader")

Callback = Callable[[], object]


def default_identity() -> str:
    """The pod name (HOSTNAME) and a random suffix, unique even across restarts of one pod."""
    return f"{os.environ.get('HOSTNAME') or 'gitops-lifecycle'}_{secrets.token_hex(4)}"


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


@dataclass(frozen=True)
class _Observed:
    """The Lease as last read: who holds it, until when, and the version to write against."""

    holder: str
    expires: float
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
        self._kube = kube
        self._settings = settings
        self._clock = clock
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading

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
                await self._release()
                self._transition(leading=False)

    # --- acquiring and renewing --------------------------------------------------------------
    async def _acquire(self) -> None:
        """Return once this replica holds the Lease."""
        while True:
            wait = self._settings.retry_period
            try:
                observed = await self._try_acquire()
            except ConflictError:
                continue  # someone wrote between our read and write: read again at once
            except KubeError as exc:
                log.warning("could not read or take the lease", error=str(exc))
            else:
                if observed is None:
                    return
                # Try again right at its expiry if that is sooner than the next retry, or as
                # soon as the Lease changes: a leader shutting down clears its holder.
                wait = min(wait, max(0.0, observed.expires - self._clock.now()))
                await self._until_changed(observed.resource_version, wait)
                continue
            await self._clock.sleep(wait)

    async def _until_changed(self, resource_version: str, wait: float) -> None:
        """Sleep `wait` seconds, or less if the Lease changes meanwhile."""
        sleeper = asyncio.ensure_future(self._clock.sleep(wait))
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

    async def _try_acquire(self) -> _Observed | None:
        """Take the Lease if it is free or expired; the holder's lease if it is not."""
        observed = await self._read()
        now = self._clock.now()
        if observed is None:
            await self._write(None, transitions=0, acquired=now)
            return None
        if observed.holder == self.identity or not observed.holder or observed.expires <= now:
            changed = observed.holder != self.identity
            transitions = observed.transitions + 1 if changed else observed.transitions
            await self._write(observed, transitions=transitions, acquired=now)
            if changed and observed.holder:
                log.info("took over an expired lease", previous=observed.holder)
            return None
        return observed

    async def _renew_until_lost(self) -> None:
        """Renew every retry period; return when a renewal failed for the renew deadline."""
        last_renewed = self._clock.now()
        while True:
            await self._clock.sleep(self._settings.retry_period)
            while True:
                outcome = await self._try_renew()
                if outcome == "renewed":
                    last_renewed = self._clock.now()
                    break
                if outcome == "lost":
                    return
                if self._clock.now() - last_renewed >= self._settings.renew_deadline:
                    log.error("could not renew the lease within the renew deadline")
                    return
                await self._clock.sleep(min(self._settings.retry_period,
                                            self._settings.renew_deadline / 4))

    async def _try_renew(self) -> str:
        try:
            observed = await self._read()
            if observed is None or observed.holder != self.identity:
                log.warning("the lease was taken by another replica",
                            holder=observed.holder if observed else None)
                return "lost"
            await self._write(observed, transitions=observed.transitions, acquired=None)
        except KubeError as exc:
            log.warning("lease renewal failed", error=str(exc))
            return "failed"
        return "renewed"

    async def _release(self) -> None:
        """Clear the holder so a standby need not wait out the lease duration."""
        try:
            async with asyncio.timeout(self._settings.retry_period):
                observed = await self._read()
                if observed is None or observed.holder != self.identity:
                    return
                body = self._body(observed.resource_version, holder="", duration=1,
                                  transitions=observed.transitions, acquired=self._clock.now())
                await self._put(body)
        except (KubeError, TimeoutError) as exc:
            log.warning("could not release the lease; the standby waits for it to expire",
                        error=str(exc))
        else:
            log.info("released the lease")

    def _transition(self, *, leading: bool) -> None:
        if bool(self.is_leader) == leading:
            return
        self.is_leader.set(leading)
        metrics.LEADER.set(1 if leading else 0)
        log.info("started leading" if leading else "stopped leading", identity=self.identity)
        callback = self._on_started if leading else self._on_stopped
        if callback is not None:
            callback()

    # --- the Lease object ---------------------------------------------------------------------
    async def _read(self) -> _Observed | None:
        try:
            lease = await self._kube.get(LEASES, self._settings.lease_name, record=Lease,
                                         namespace=self._settings.lease_namespace)
        except NotFoundError:
            return None
        spec = lease.spec
        renewed_at = spec.renew_time or spec.acquire_time
        renewed = renewed_at.timestamp() if renewed_at is not None else 0.0
        return _Observed(
            holder=spec.holder_identity or "",
            expires=renewed + (spec.lease_duration_seconds or 0),
            transitions=spec.lease_transitions,
            resource_version=lease.metadata.resource_version,
        )

    async def _write(self, observed: _Observed | None, *, transitions: int,
                     acquired: float | None) -> None:
        if observed is None:
            body = self._body(None, holder=self.identity, transitions=transitions,
                              acquired=acquired)
            await self._kube.create(LEASES, body, record=Lease,
                                    namespace=self._settings.lease_namespace)
            return
        body = self._body(observed.resource_version, holder=self.identity,
                          transitions=transitions, acquired=acquired)
        await self._put(body)

    async def _put(self, body: dict[str, Any]) -> None:
        await self._kube.replace(LEASES, self._settings.lease_name, body, record=Lease,
                                 namespace=self._settings.lease_namespace)

    def _body(self, resource_version: str | None, *, holder: str, transitions: int,
              acquired: float | None, duration: int | None = None) -> dict[str, Any]:
        now = self._clock.now()
        metadata: dict[str, Any] = {"name": self._settings.lease_name,
                                    "namespace": self._settings.lease_namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        spec: dict[str, Any] = {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration or max(1, round(self._settings.lease_duration)),
            "renewTime": format_time(now, micro=True),
            "leaseTransitions": transitions,
        }
        if acquired is not None:
            spec["acquireTime"] = format_time(acquired, micro=True)
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": metadata, "spec": spec}
