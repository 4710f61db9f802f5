"""The work loop every controller runs in: changed keys in, requeue times out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from gitops_lifecycle.clock import Clock
from gitops_lifecycle.simulation.kubeapi.errors import ApiError
from gitops_lifecycle.simulation.kubeapi.store import Change, Store

_ROUNDS = 100  # reconciles that change what they read settle long before this
_RETRY = 60.0  # after a failure that is not the API's
_log = logging.getLogger(__name__)


class Controller(Protocol):
    """What the loop needs of a controller."""

    name: str
    follows: tuple[str, ...]  # the storages whose changes concern it

    def keys(self, change: Change) -> Iterable[str]:
        """The keys of its own objects a change concerns."""

    def all_keys(self) -> Iterable[str]:
        """Every key it may have to act on (at start)."""

    def reconcile(self, key: str, now: float) -> float | None:
        """Bring one object towards its spec; the clock time to look again, if any."""


class WorkLoop:
    """Runs one controller: de-duplicated keys, requeue times, woken by changes and the clock."""

    def __init__(self, controller: Controller, *, store: Store, clock: Clock) -> None:
        self.controller = controller
        self._store = store
        self._clock = clock
        self._dirty: set[str] = set()
        self._timers: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._unsubscribe: list[Callable[[], None]] = []

    def _changed(self, change: Change) -> None:
        self._dirty.update(self.controller.keys(change))
        self._wake.set()

    def follow(self) -> None:
        """Start following the controller's storages and queue every key once."""
        for storage in self.controller.follows:
            self._unsubscribe.append(self._store.subscribe(storage, self._changed))
        self._dirty.update(self.controller.all_keys())

    def unfollow(self) -> None:
        """Stop following."""
        for stop in self._unsubscribe:
            stop()
        self._unsubscribe.clear()

    def step(self) -> float | None:
        """Reconcile every queued and due key; the clock time of the next timer, if any."""
        if not self._dirty and not self._timers:
            return None
        now = self._clock.now()
        for key, due in list(self._timers.items()):
            if due <= now:
                del self._timers[key]
                self._dirty.add(key)
        for _ in range(_ROUNDS):
            if not self._dirty:
                break
            batch, self._dirty = self._dirty, set()
            for key in sorted(batch):
                try:
                    again = self.controller.reconcile(key, now)
                except ApiError as exc:  # a conflict or a vanished object: look again soon
                    again = now + 1.0
                    _log.debug("%s: %s: %s", self.controller.name, key, exc)
                except Exception:
                    again = now + _RETRY
                    _log.exception("%s: reconciling %s failed", self.controller.name, key)
                if again is not None:
                    self._timers[key] = min(again, self._timers.get(key, again))
        return min(self._timers.values(), default=None)

    async def run(self) -> None:
        """Reconcile as things change and timers fall due, until cancelled."""
        self.follow()
        try:
            while True:
                self._wake.clear()
                upcoming = self.step()
                waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
                if upcoming is not None:
                    waiters.add(asyncio.ensure_future(self._clock.sleep_until(upcoming)))
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            self.unfollow()
