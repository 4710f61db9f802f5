"""List once, then watch: a local cache of one resource that controllers read instead of the API.

The informer lists in pages, watches from the list's resourceVersion (bookmarks keep that
version fresh on quiet resources), resumes a dropped watch from the last version it saw, and
lists again when the server says that version is gone (410), telling subscribers about every
object that vanished in between. Errors and re-lists back off with a capped, jittered
exponential delay that starts over only after two quiet minutes, as client-go's reflector
does: a server answering every watch with 410 gets a LIST every 30 s, not a storm of them.

A watch that has heard nothing, not even a bookmark, for two bookmark intervals is dead: it
is restarted from its last resourceVersion, and `/readyz` says so while it lasts. `watching`
and `last_heard` tell controllers whether the cache is live. An object that does not fit the
record is skipped (counted, logged once), never the stream it came in.

Scope: one list+watch per included namespace while they are few; with more than
`watch_each_up_to` of them (or none named), one cluster-wide list+watch filtered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal

import msgspec

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.health import Health
from gitops_lifecycle.kube.backoff import Backoff
from gitops_lifecycle.kube.client import Kube, Undecodable, decode
from gitops_lifecycle.kube.errors import (
    GoneError,
    InvalidResponseError,
    KubeError,
    TooManyRequestsError,
)
from gitops_lifecycle.kube.records import Object, R
from gitops_lifecycle.kube.resources import Resource
from gitops_lifecycle.settings import WATCH_BATCH_WINDOW, NamespaceScope, WatchScope

log = logs.get("informer")

DECODE_SLICE = 50
"""Objects decoded between two yields to the event loop during a LIST."""
_LOG_ONCE_LIMIT = 10_000
"""Keys of undecodable objects remembered so that each is logged once."""

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, R | None, R | None], None]
"""Called with (type, old, new): ADDED (None, new), MODIFIED (old, new), DELETED (old, None)."""


@dataclass
class _Scope:
    """One list+watch loop: cluster-wide (namespace None) or one included namespace."""

    namespace: str | None
    backoff: Backoff
    version: str | None = None
    synced: bool = False
    open: bool = False
    """Whether a watch stream is open (the server has answered it)."""
    heard: float | None = None
    """Monotonic time of the last list, watch answer, event or bookmark."""


_LOOP = Clock()
"""Silence is measured on the real clock (the event loop's time), as the server's bookmarks
and the connection's read timeout are: a simulated clock running faster (the demo) must not
make a quiet watch look dead between two bookmarks."""


class Informer(Generic[R]):
    """A synced cache of one resource, with subscribers told of every change."""

    def __init__(  # noqa: PLR0913 - what to watch, where, and who is told
        self, *, kube: Kube, resource: Resource, record: type[R],
        namespaces: NamespaceScope | None = None, label_selector: str = "",
        field_selector: str = "", clock: Clock | None = None, health: Health | None = None,
        page_size: int = 500, watch_timeout: int = 300, bookmark_interval: float = 60.0,
        batch_window: float = WATCH_BATCH_WINDOW,
    ) -> None:
        self.name = f"informer:{resource.plural}"
        self.resource = resource
        self.has_synced = asyncio.Event()
        self._kube = kube
        self._record = record
        self._namespaces = namespaces or NamespaceScope()
        self._label_selector = label_selector
        self._field_selector = field_selector
        self._clock = clock or Clock()
        self._page_size = page_size
        self._batch_window = batch_window
        self._watch_timeout = watch_timeout
        # The API server bookmarks every watch about once a minute: two minutes of silence
        # mean the connection is gone, whatever TCP says.
        self.silence_limit = 2 * bookmark_interval
        # Past the limit the watch is restarted at once: readiness fails only if that
        # restart has not been heard from either (a reconnect takes a second or so).
        self._unready_after = self.silence_limit + bookmark_interval / 2
        self._include = frozenset(self._namespaces.include)
        self._exclude = frozenset(self._namespaces.exclude)
        self._scopes = [_Scope(namespace, Backoff(clock=self._clock))
                        for namespace in self._scope_namespaces()]
        self._undecodable: set[str] = set()
        # namespace -> name -> object: the names in the records are the keys, so 100,000s of
        # cached objects need no `namespace/name` key strings of their own.
        self._cache: dict[str, dict[str, R]] = {}
        self._size = 0
        self._handlers: list[Handler[R]] = []
        self._kind = resource.kind
        # The size is read at each scrape, not written at each event (an informer gone: 0).
        informer = weakref.ref(self)
        metrics.OBJECTS_CACHED.labels(kind=self._kind).set_function(
            lambda: len(cache) if (cache := informer()) is not None else 0)
        # Label lookups cost microseconds: each watch event would pay one.
        self._event_counters: dict[str, Any] = {}
        # Exported at 0 from the start: a healthy watch shows as 0 on a dashboard, and
        # increase() counts the first re-list (a series born at 1 hides it).
        metrics.RELISTS.labels(kind=self._kind)
        metrics.WATCH_RESTARTS.labels(kind=self._kind)
        if health is not None:
            health.readiness(self.name, self._readiness)

    # --- the cache --------------------------------------------------------------------------
    def get(self, key: str) -> R | None:
        """The cached object with key `namespace/name` (or `name`), if any."""
        namespace, _, name = key.rpartition("/")
        return self._cache.get(namespace, {}).get(name)

    def values(self) -> Iterator[R]:
        """Every cached object (iterates the live cache: copy it before awaiting)."""
        for objects in self._cache.values():
            yield from objects.values()

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def subscribe(self, handler: Handler[R]) -> None:
        """Call `handler(type, old, new)` on every change, including those of the first list."""
        self._handlers.append(handler)

    # --- health ----------------------------------------------------------------------------
    @property
    def watching(self) -> bool:
        """Synced, and every watch open and heard from lately (within `silence_limit`)."""
        now = _LOOP.monotonic()
        return self.has_synced.is_set() and all(
            scope.open and scope.heard is not None and now - scope.heard <= self.silence_limit
            for scope in self._scopes)

    @property
    def last_heard(self) -> float | None:
        """Event-loop time of the stalest scope's last sign of life."""
        heard = [scope.heard for scope in self._scopes]
        return None if None in heard else min(h for h in heard if h is not None)

    @property
    def namespaces_watched(self) -> list[str | None]:
        """One entry per list+watch: a namespace, or None for one cluster-wide watch."""
        return [scope.namespace for scope in self._scopes]

    def _readiness(self) -> str | None:
        if not self.has_synced.is_set():
            return "initial list not finished"
        now = _LOOP.monotonic()
        silent = [scope for scope in self._scopes
                  if scope.heard is not None and now - scope.heard > self._unready_after]
        if not silent:
            return None
        worst = min(silent, key=lambda scope: scope.heard or 0.0)
        where = f" in namespace {worst.namespace}" if worst.namespace else ""
        return (f"no event or bookmark for {now - (worst.heard or 0.0):.0f}s{where}"
                f" ({len(silent)} of {len(self._scopes)} watches)")

    def _heard(self, scope: _Scope) -> None:
        scope.heard = _LOOP.monotonic()

    def _allows(self, namespace: str) -> bool:
        """`NamespaceScope.allows`, in sets: it runs for every object listed or watched."""
        if not namespace:
            return True
        if namespace in self._exclude:
            return False
        return not self._include or namespace in self._include

    # --- running ----------------------------------------------------------------------------
    async def run(self) -> None:
        """List and watch until cancelled (one loop per namespace watched)."""
        scopes = self._scopes
        if len(scopes) == 1:
            await self._run_scope(scopes[0], scopes)
            return
        async with asyncio.TaskGroup() as group:
            for scope in scopes:
                group.create_task(self._run_scope(scope, scopes))

    def _scope_namespaces(self) -> list[str | None]:
        include = self._namespaces.include
        if not self.resource.namespaced or not include:
            return [None]
        named: list[str | None] = [ns for ns in include if self._allows(ns)]
        limit = self._namespaces.watch_each_up_to if isinstance(self._namespaces, WatchScope) \
            else WatchScope().watch_each_up_to
        if len(named) > limit:
            # A watch holds a connection for minutes and the API server's field selector on
            # metadata.namespace takes one namespace: past a few, watch once and filter here.
            return [None]
        return named

    async def _run_scope(self, scope: _Scope, scopes: list[_Scope]) -> None:
        while True:
            try:
                if scope.version is None:
                    await self._list(scope)
                    self._mark_synced(scope, scopes)
                await self._watch(scope)
            except GoneError as exc:
                delay = scope.backoff.next()
                log.info("resource version expired, listing again", kind=self._kind,
                         namespace=scope.namespace, reason=exc.message, delay=round(delay, 2))
                scope.version = None
                await self._clock.sleep(delay)
                metrics.RELISTS.labels(kind=self._kind).inc()
            except KubeError as exc:
                await self._back_off(scope, exc)

    async def _back_off(self, scope: _Scope, exc: KubeError) -> None:
        retry_after = exc.retry_after if isinstance(exc, TooManyRequestsError) else None
        delay = scope.backoff.next(retry_after)
        log.warning("list or watch failed, retrying", kind=self._kind,
                    namespace=scope.namespace, error=str(exc), delay=round(delay, 2))
        await self._clock.sleep(delay)

    def _mark_synced(self, scope: _Scope, scopes: list[_Scope]) -> None:
        scope.synced = True
        if not self.has_synced.is_set() and all(other.synced for other in scopes):
            log.info("synced", kind=self._kind, objects=len(self))
            self.has_synced.set()

    # --- list -------------------------------------------------------------------------------
    async def _list(self, scope: _Scope) -> None:
        """List every page; objects not in the new list are gone and reported DELETED."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        seen: dict[str, set[str]] = {}
        token: str | None = None
        while True:
            try:
                page = await self._kube.list_page(
                    self.resource, record=msgspec.Raw, namespace=scope.namespace,
                    limit=self._page_size, continue_token=token,
                    label_selector=self._label_selector, field_selector=self._field_selector,
                )
            except GoneError:
                if token is None:
                    raise
                log.info("continue token expired, listing again from the start",
                         kind=self._kind, namespace=scope.namespace)
                token = None
                seen.clear()
                continue
            await self._apply_page(page.items, seen)
            token = page.metadata.continue_ or None
            if token is None:
                break
        self._drop_unseen(scope, seen)
        scope.version = page.metadata.resource_version
        self._heard(scope)
        metrics.LIST_DURATION.labels(kind=self._kind).observe(loop.time() - started)

    async def _apply_page(self, items: tuple[msgspec.Raw, ...],
                          seen: dict[str, set[str]]) -> None:
        # A page of 500 large objects takes tens of milliseconds to decode: decoding it in
        # slices, yielding between them, keeps the loop (and /healthz) responsive.
        for start in range(0, len(items), DECODE_SLICE):
            for raw in items[start : start + DECODE_SLICE]:
                try:
                    item = decode(self._record, raw)
                except InvalidResponseError as exc:
                    # Left out of `seen`: a cached older version is dropped as gone.
                    self._skip(decode(Object, raw), "LISTED", str(exc))
                    continue
                self._apply_listed(item, seen)
            await asyncio.sleep(0)

    def _apply_listed(self, item: R, seen: dict[str, set[str]]) -> None:
        meta = item.metadata
        if not self._allows(meta.namespace):
            return
        item.compact()
        # Names, not keys: a key string per object would outlive the list in the allocator.
        names = seen.get(meta.namespace)
        if names is None:
            names = seen[meta.namespace] = set()
        names.add(meta.name)
        self._store(item)

    def _drop_unseen(self, scope: _Scope, seen: dict[str, set[str]]) -> None:
        in_scope = [namespace for namespace in self._cache
                    if scope.namespace is None or namespace == scope.namespace]
        for namespace in in_scope:
            names = seen.get(namespace, set())
            for name in [name for name in self._cache[namespace] if name not in names]:
                self._remove(namespace, name)

    # --- watch ------------------------------------------------------------------------------
    async def _watch(self, scope: _Scope) -> None:
        """Apply watch events until the stream ends; a stream that gave nothing backs off."""
        assert scope.version is not None
        delivered = False

        def opened() -> None:
            scope.open = True
            self._heard(scope)

        events = self._kube.watch(
            self.resource, record=self._record, resource_version=scope.version,
            namespace=scope.namespace, timeout_seconds=self._jittered_timeout(),
            label_selector=self._label_selector, field_selector=self._field_selector,
            idle_timeout=self.silence_limit, opened=opened,
            batch_window=self._batch_window,
        )
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    self._heard(scope)
                    self._count(event.type)
                    if isinstance(event, Undecodable):
                        self._skip(event.object, event.type, event.error)
                    else:
                        self._on_event(event.type, event.object)
                    scope.version = event.object.metadata.resource_version or scope.version
                    delivered = True
        finally:
            scope.open = False
            metrics.WATCH_RESTARTS.labels(kind=self._kind).inc()
        if not delivered:
            await self._clock.sleep(scope.backoff.next())

    def _count(self, kind: str) -> None:
        counter = self._event_counters.get(kind)
        if counter is None:
            counter = self._event_counters[kind] = metrics.WATCH_EVENTS.labels(
                kind=self._kind, type=kind)
        counter.inc()

    def _jittered_timeout(self) -> int:
        # Spread re-watches of many informers over time, as client-go does (timeout to twice it).
        return int(self._watch_timeout * random.uniform(1.0, 2.0))  # noqa: S311

    def _on_event(self, kind: str, obj: R) -> None:
        if kind == "BOOKMARK" or not self._allows(obj.metadata.namespace):
            return
        if kind == "DELETED":
            self._remove(obj.metadata.namespace, obj.metadata.name)
        elif kind in {"ADDED", "MODIFIED"}:
            obj.compact()
            self._store(obj)
        else:
            log.warning("unknown watch event type", kind=self._kind, type=kind)

    def _skip(self, obj: Object, kind: str, error: str) -> None:
        """An object that does not fit the record: count it, log it once, forget any older copy.

        Whatever was cached for it is out of date, and acting on it would act on data we
        cannot read: it is reported DELETED, as a list that no longer holds it would.
        """
        meta = obj.metadata
        metrics.UNDECODABLE.labels(kind=self._kind).inc()
        if meta.key not in self._undecodable and len(self._undecodable) < _LOG_ONCE_LIMIT:
            self._undecodable.add(meta.key)
            log.warning("skipping an object that cannot be decoded", kind=self._kind,
                        key=meta.key, change=kind, error=error)
        if self._allows(meta.namespace):
            self._remove(meta.namespace, meta.name)

    # --- changes ----------------------------------------------------------------------------
    def _store(self, new: R) -> None:
        meta = new.metadata
        objects = self._cache.get(meta.namespace)
        if objects is None:
            objects = self._cache[meta.namespace] = {}
        old = objects.get(meta.name)
        if old is not None and old.metadata.resource_version == meta.resource_version:
            return  # the same version again (a resumed watch or a re-list): nothing changed
        if old is not None:
            # A replaced entry would keep the old object's name string as its key.
            del objects[meta.name]
        objects[meta.name] = new
        self._size += old is None
        self._notify("ADDED" if old is None else "MODIFIED", old, new)

    def _remove(self, namespace: str, name: str) -> None:
        objects = self._cache.get(namespace, {})
        old = objects.pop(name, None)
        if old is None:
            return
        self._size -= 1
        if not objects:
            del self._cache[namespace]
        self._notify("DELETED", old, None)

    def _notify(self, kind: EventType, old: R | None, new: R | None) -> None:
        for handler in self._handlers:
            try:
                handler(kind, old, new)
            except Exception:
                log.exception("informer subscriber failed", kind=self._kind, change=kind)
