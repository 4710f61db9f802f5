"""Kubernetes Events about what the daemon did, aggregated so that repeats do not flood.

Recording never blocks and never raises: `record` notes the occurrence and a background
task writes it. Events are `events.k8s.io/v1`, written as client-go's `tools/events`
recorder writes them, so that a real API server accepts them (the same storage serves them
as core/v1 Events to `kubectl get events`): `regarding` the object, `eventTime`,
`reportingController`/`reportingInstance` and `action` set, the deprecated core fields left
out. Events about cluster-scoped objects (a Namespace) go in `default`, the only namespace
besides `kube-system` the API server accepts them in.

The first occurrence of an (object, type, reason, message) creates the Event; repeats PATCH
its `series` (`count`, `lastObservedTime`), and repeats that arrive while a write waits for
the rate limit are merged into one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.clock import Clock, format_time
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import KubeError, NotFoundError
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import EVENTS_V1
from gitops_lifecycle.ratelimit import TokenBucket

log = logs.get("events")

COMPONENT = "gitops-lifecycle-management"
"""`reportingController`: a qualified name, as the API server requires."""
MAX_NOTE = 1024
"""The API server refuses a `note` longer than 1 KiB (bytes): longer ones are cut here."""
MAX_FIELD = 128
"""The API server's limit on `reason`, `action` and `reportingInstance`."""
MAX_NAME_PREFIX = 200
"""Event names are `<object name>.<random>` within the 253 characters of a DNS subdomain."""
FLUSH_TIMEOUT = 2.0
"""Seconds shutdown may spend writing Events still waiting."""


class Involved(Protocol):
    """What an Event is about: anything shaped like an ObjectReference."""

    @property
    def api_version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...


Key = tuple[str, str, str, str, str, str, str, str]


@dataclass
class _Aggregate:
    """One Event on the API server and the occurrences it has counted or will count."""

    involved: Involved
    type: str
    reason: str
    message: str
    action: str
    first: float
    last: float
    count: int = 0
    written: int = 0
    name: str | None = None


class EventRecorder:
    """A `Component` that writes recorded Events, merging repeats, at a bounded rate."""

    name = "event-recorder"

    def __init__(  # noqa: PLR0913 - where to write, and the limits that keep it polite
        self, *, kube: Kube, clock: Clock, instance: str = "", per_second: float = 5.0,
        burst: int = 25, max_pending: int = 1000, remember: int = 4096,
    ) -> None:
        self._kube = kube
        self._clock = clock
        # Required by the API server; client-go uses the host name when nothing better is set.
        self._instance = (instance or f"{COMPONENT}-{socket.gethostname()}")[:MAX_FIELD]
        self._bucket = TokenBucket(clock=clock, rate=per_second, burst=burst)
        self._max_pending = max_pending
        self._remember = remember
        self._aggregates: OrderedDict[Key, _Aggregate] = OrderedDict()
        self._pending: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()

    def record(self, involved: Involved, *, type: str, reason: str, message: str,  # noqa: A002 - the Event field's name
               action: str | None = None) -> None:
        """Note one occurrence; it is written soon, merged with its repeats.

        `action` says what was done or tried (`Delete`); it defaults to the reason.
        """
        try:
            self._record(involved, type, reason, _note(message), action or reason)
        except Exception:
            metrics.KUBE_EVENTS_FAILED.labels(cause="error").inc()
            log.exception("could not record an event", reason=reason)

    def _record(self, involved: Involved, type_: str, reason: str, message: str,
                action: str) -> None:
        metrics.KUBE_EVENTS.labels(reason=reason).inc()
        key: Key = (involved.kind, involved.namespace, involved.name, involved.uid, type_,
                    reason, message, action)
        now = self._clock.now()
        aggregate = self._aggregates.get(key)
        if aggregate is None:
            aggregate = _Aggregate(involved, type_, reason, message, action[:MAX_FIELD],
                                   first=now, last=now)
            self._aggregates[key] = aggregate
            self._forget_oldest()
        else:
            self._aggregates.move_to_end(key)
        aggregate.count += 1
        aggregate.last = now
        if key in self._queued:
            return  # the write already waiting will carry this occurrence too
        if len(self._queued) >= self._max_pending:
            metrics.KUBE_EVENTS_FAILED.labels(cause="overflow").inc()
            return
        self._queued.add(key)
        self._pending.put_nowait(key)

    def _forget_oldest(self) -> None:
        while len(self._aggregates) > self._remember:
            key, _ = next(iter(self._aggregates.items()))
            if key in self._queued:
                break  # still to be written; forget it later
            del self._aggregates[key]

    async def run(self) -> None:
        """Write recorded Events until cancelled, then what is still waiting (briefly)."""
        waiting: Key | None = None
        try:
            while True:
                key = waiting = await self._pending.get()
                await self._bucket.acquire()
                waiting = None
                self._queued.discard(key)
                aggregate = self._aggregates.get(key)
                if aggregate is not None and aggregate.count > aggregate.written:
                    await self._write(aggregate)
        finally:
            if waiting is not None:
                self._pending.put_nowait(waiting)  # taken from the queue, not yet written
            # The controllers stop first: what they recorded last is written on the way out.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_TIMEOUT):
                    await self.flush()

    async def flush(self) -> None:
        """Write whatever is waiting now (for shutdown and tests)."""
        while not self._pending.empty():
            key = self._pending.get_nowait()
            self._queued.discard(key)
            aggregate = self._aggregates.get(key)
            if aggregate is not None and aggregate.count > aggregate.written:
                await self._write(aggregate)

    async def _write(self, aggregate: _Aggregate) -> None:
        count = aggregate.count
        try:
            if aggregate.name is not None:
                try:
                    await self._patch(aggregate, count)
                except NotFoundError:
                    aggregate.name = None  # deleted meanwhile (by the events TTL): start anew
            if aggregate.name is None:
                aggregate.name = await self._create(aggregate, count)
        except KubeError as exc:
            metrics.KUBE_EVENTS_FAILED.labels(cause="api").inc()
            log.warning("could not write an event", reason=aggregate.reason,
                        object=f"{aggregate.involved.namespace}/{aggregate.involved.name}",
                        error=str(exc))
            return
        aggregate.written = count

    async def _patch(self, aggregate: _Aggregate, count: int) -> None:
        assert aggregate.name is not None
        body = {"series": _series(aggregate, count)}
        await self._kube.patch(EVENTS_V1, aggregate.name, body, record=Object,
                               namespace=_namespace(aggregate.involved))

    async def _create(self, aggregate: _Aggregate, count: int) -> str:
        involved = aggregate.involved
        namespace = _namespace(involved)
        name = f"{(involved.name or 'unknown')[:MAX_NAME_PREFIX]}.{secrets.token_hex(8)}"
        body: dict[str, Any] = {
            "apiVersion": EVENTS_V1.api_version, "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "regarding": _reference(involved),
            "type": aggregate.type, "reason": aggregate.reason[:MAX_FIELD],
            "action": aggregate.action, "note": aggregate.message,
            "eventTime": format_time(aggregate.first, micro=True),
            "reportingController": COMPONENT,
            "reportingInstance": self._instance,
        }
        if count > 1:  # repeats merged before the first write: a series from the start
            body["series"] = _series(aggregate, count)
        await self._kube.create(EVENTS_V1, body, record=Object, namespace=namespace)
        return name


def _namespace(involved: Involved) -> str:
    # As client-go: an Event about a cluster-scoped object (a Namespace, a Node) goes in
    # `default`; anywhere else the API server refuses it (pkg/apis/core/validation/events.go:
    # "involvedObject.namespace: does not match event.namespace").
    return involved.namespace or "default"


def _series(aggregate: _Aggregate, count: int) -> dict[str, Any]:
    # The API server wants a series' count at least 2 and its lastObservedTime set.
    return {"count": count, "lastObservedTime": format_time(aggregate.last, micro=True)}


def _note(message: str) -> str:
    """`message` within the API server's 1 KiB, cut on a character boundary."""
    encoded = message.encode()
    if len(encoded) <= MAX_NOTE:
        return message
    return encoded[: MAX_NOTE - 3].decode(errors="ignore") + "..."


def _reference(involved: Involved) -> dict[str, str]:
    fields = {"apiVersion": involved.api_version, "kind": involved.kind,
              "namespace": involved.namespace, "name": involved.name, "uid": involved.uid}
    return {key: value for key, value in fields.items() if value}
