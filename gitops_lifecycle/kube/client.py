"""A small Kubernetes API client: raw JSON over aiohttp, decoded into records.

Every request passes a client-side QPS/burst limit (as client-go's does) and every failure
becomes one of `kube.errors`, with the aiohttp exception chained.

Connections come from two pools. A watch holds its HTTP/1.1 connection for minutes, so
watches have a pool of their own without a limit (informers keep their number small), and
requests (GET, LIST pages, writes) share `max_requests` others. A request's timeout starts
once it has a connection: waiting for one is queueing, not a slow server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar

import aiohttp
import msgspec

from gitops_lifecycle import __version__, metrics
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.kube import connection as connections
from gitops_lifecycle.kube.errors import (
    APIConnectionError,
    APIError,
    InvalidResponseError,
    KubeError,
    ServerError,
    for_status,
)
from gitops_lifecycle.kube.pacing import Pacer
from gitops_lifecycle.kube.records import E, Object, ObjectList, R, Status, WatchEvent
from gitops_lifecycle.kube.resources import Resource
from gitops_lifecycle.ratelimit import TokenBucket
from gitops_lifecycle.retry.breaker import Breaker, CircuitOpenError
from gitops_lifecycle.settings import CircuitBreakerSettings, KubernetesSettings

T = TypeVar("T")
JSON = "application/json"
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
PatchType = Literal["merge", "json", "strategic"]
Params = Mapping[str, str | int]
LEADERSHIP = "/apis/coordination.k8s.io/"
"""Lease requests: they get a QPS budget of their own and bypass the circuit breaker, so that
neither a burst of deletions nor informers' errors can delay a renewal into a lost lease."""
LEADERSHIP_QPS = 5.0
LEADERSHIP_BURST = 10
MAX_RETRY_AFTER = 60.0
"""The longest `Retry-After` honoured; longer ones are cut to this."""
CONNECTIONS = 100
"""Requests in flight at once (each on a connection of its own); watches are not counted."""


@functools.cache
def decoder(kind: Hashable) -> msgspec.json.Decoder[Any]:
    """One decoder per record type (building them costs more than a small decode)."""
    return msgspec.json.Decoder(kind)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A watch event whose object does not fit the record: its type, metadata and why."""

    type: str
    object: Object
    error: str


def decode(kind: type[T], data: bytes) -> T:
    """Decode API JSON into `kind`, as an `InvalidResponseError` when it does not fit."""
    try:
        result: T = decoder(kind).decode(data)  # type: ignore[arg-type] # types are hashable
    except msgspec.DecodeError as exc:
        raise InvalidResponseError(f"cannot decode {kind!r}: {exc}") from exc
    return result


class Kube:
    """The API client; use as `async with Kube.from_settings(settings.kubernetes) as kube:`."""

    def __init__(self, *, load: Callable[[], Awaitable[connections.Connection]],  # noqa: PLR0913 - how to connect, and the limits
                 qps: float = 50, burst: int = 100, timeout: float = 30,
                 list_timeout: float = 60, breaker: Breaker | None = None,
                 clock: Clock | None = None, max_requests: int = CONNECTIONS,
                 component: str | None = None) -> None:
        self._load = load
        # The API server's audit log names the caller by its User-Agent: which command made a
        # request (`run` for the daemon, `wait`) shows there, and in the simulated cluster's.
        self.user_agent = f"gitops-lifecycle/{__version__}" + (f" ({component})" if component
                                                                else "")
        self._breaker = breaker
        # `burst` requests pass at once, then `qps` per second of `clock`'s time.
        self._limiter = TokenBucket(clock=clock or Clock(), rate=qps, burst=burst)
        self._leadership = TokenBucket(clock=clock or Clock(), rate=max(qps, LEADERSHIP_QPS),
                                       burst=max(burst, LEADERSHIP_BURST))
        self._timeout = timeout
        self._list_timeout = list_timeout
        self._slots = asyncio.Semaphore(max_requests)
        self._in_use = {"requests": 0, "watches": 0}
        self._connection: connections.Connection | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None
        self._retired: list[aiohttp.ClientSession] = []

    @classmethod
    def from_settings(cls, settings: KubernetesSettings, *,
                      circuit: CircuitBreakerSettings | None = None,
                      clock: Clock | None = None, component: str | None = None) -> Self:
        """A client configured from `kubernetes.*` settings (connects on `async with`).

        With `circuit`, consecutive connection failures and 5xx answers open a circuit breaker
        and requests fail fast (as connection errors) until it lets a trial request through.
        The QPS limit runs on `clock` (the real clock by default). `component` names the
        command in the User-Agent.
        """
        breaker = None
        if circuit is not None:
            breaker = Breaker("kubernetes", circuit, failures=(APIConnectionError, ServerError))
        return cls(load=functools.partial(connections.load, settings),
                   qps=settings.qps, burst=settings.burst, timeout=settings.request_timeout,
                   list_timeout=settings.list_timeout, breaker=breaker, clock=clock,
                   component=component)

    async def __aenter__(self) -> Self:
        self._connection = await self._load()
        self._session, self._watch_session = self._sessions(self._connection)
        return self

    async def __aexit__(self, *_: object) -> None:
        for session in (self._session, self._watch_session, *self._retired):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None
        self._retired.clear()

    def connections_in_use(self) -> dict[str, int]:
        """Connections busy now: {"requests": n, "watches": m}."""
        return dict(self._in_use)

    @contextlib.contextmanager
    def _using(self, pool: str) -> Iterator[None]:
        self._in_use[pool] += 1
        metrics.KUBE_CONNECTIONS.labels(pool=pool).inc()
        try:
            yield
        finally:
            self._in_use[pool] -= 1
            metrics.KUBE_CONNECTIONS.labels(pool=pool).dec()

    @contextlib.asynccontextmanager
    async def _request_slot(self, path: str) -> AsyncIterator[None]:
        if path.startswith(LEADERSHIP):  # one request at a time; never behind a queue
            with self._using("requests"):
                yield
            return
        if self._slots.locked():
            metrics.KUBE_REQUESTS_WAITING.inc()
            try:
                await self._slots.acquire()
            finally:
                metrics.KUBE_REQUESTS_WAITING.dec()
        else:
            await self._slots.acquire()
        try:
            with self._using("requests"):
                yield
        finally:
            self._slots.release()

    @property
    def host(self) -> str:
        """The API server's base URL."""
        return self._connected()[0].host

    # --- reads ------------------------------------------------------------------------------
    async def get(self, resource: Resource, name: str, *, record: type[T],
                  namespace: str | None = None) -> T:
        """One object."""
        return decode(record, await self.request("GET", resource.path(namespace, name)))

    async def list_page(  # noqa: PLR0913 - the LIST query parameters, all optional
        self, resource: Resource, *, record: type[E], namespace: str | None = None,
        limit: int = 500, continue_token: str | None = None, label_selector: str = "",
        field_selector: str = "", resource_version: str | None = None,
    ) -> ObjectList[E]:
        """One page of a LIST; follow `metadata.continue_` for the next one.

        With `record=msgspec.Raw` the items stay undecoded, for callers that decode them a
        few at a time (they reference the page until decoded).
        """
        params = _drop_empty({
            "limit": limit, "continue": continue_token, "labelSelector": label_selector,
            "fieldSelector": field_selector, "resourceVersion": resource_version,
        })
        body = await self.request("GET", resource.path(namespace), params=params,
                                  timeout=self._list_timeout)
        return decode(ObjectList[record], body)  # type: ignore[valid-type]

    async def watch(  # noqa: PLR0913 - the WATCH query parameters
        self, resource: Resource, *, record: type[R], resource_version: str,
        namespace: str | None = None, label_selector: str = "", field_selector: str = "",
        timeout_seconds: int = 300, bookmarks: bool = True, idle_timeout: float | None = None,
        opened: Callable[[], object] | None = None,
        batch_window: float = 0.0,
    ) -> AsyncGenerator[WatchEvent[R] | Undecodable, None]:
        """Watch events until the server ends the stream; an ERROR event raises its `APIError`.

        A stream silent for `idle_timeout` seconds is dead and raises `APIConnectionError`
        (with bookmarks on, a live one hears something about every minute). `opened` is
        called once the server has answered. An object that does not fit `record` arrives
        as `Undecodable`, so that one odd object cannot stall the stream. With a
        `batch_window`, events that keep coming are read together (`kube.pacing`).
        """
        params = _drop_empty({
            "watch": "true", "resourceVersion": resource_version,
            "allowWatchBookmarks": "true" if bookmarks else None,
            "timeoutSeconds": timeout_seconds, "labelSelector": label_selector,
            "fieldSelector": field_selector,
        })
        # The server ends the stream after timeoutSeconds; a silent socket much longer is dead.
        idle = idle_timeout if idle_timeout is not None else timeout_seconds + self._timeout
        timeout = aiohttp.ClientTimeout(sock_connect=self._timeout, sock_read=idle)
        response = await self._open("GET", resource.path(namespace), params=params,
                                    timeout=timeout, watch=True)
        with self._using("watches"):
            async with response:
                if opened is not None:
                    opened()
                async for line in _lines(response, batch_window):
                    yield _watch_event(record, line)

    # --- writes -----------------------------------------------------------------------------
    async def create(self, resource: Resource, body: Any, *, record: type[T],
                     namespace: str | None = None, dry_run: bool = False) -> T:
        """Create an object (409 `ConflictError` when it already exists)."""
        params = {"dryRun": "All"} if dry_run else None
        data = await self.request("POST", resource.path(namespace), params=params, body=body)
        return decode(record, data)

    async def replace(self, resource: Resource, name: str, body: Any, *, record: type[T],  # noqa: PLR0913
                      namespace: str | None = None, subresource: str | None = None) -> T:
        """Replace an object (409 when its resourceVersion is stale)."""
        path = _subpath(resource.path(namespace, name), subresource)
        return decode(record, await self.request("PUT", path, body=body))

    async def patch(  # noqa: PLR0913 - object address, body, and how to apply it
        self, resource: Resource, name: str, body: Any, *, record: type[T],
        namespace: str | None = None, patch_type: PatchType = "merge",
        subresource: str | None = None, dry_run: bool = False,
    ) -> T:
        """Patch an object with a merge, JSON or strategic merge patch."""
        path = _subpath(resource.path(namespace, name), subresource)
        params = {"dryRun": "All"} if dry_run else None
        data = await self.request("PATCH", path, params=params, body=body,
                                  content_type=PATCH_TYPES[patch_type])
        return decode(record, data)

    async def delete(  # noqa: PLR0913 - DeleteOptions, all optional
        self, resource: Resource, name: str, *, namespace: str | None = None,
        uid: str | None = None, resource_version: str | None = None,
        propagation_policy: Literal["Background", "Foreground", "Orphan"] | None = None,
        grace_period_seconds: int | None = None, dry_run: bool = False,
    ) -> None:
        """Delete an object; the preconditions make it a 409 if the object has changed."""
        preconditions = _drop_empty({"uid": uid, "resourceVersion": resource_version})
        options = _drop_empty({
            "kind": "DeleteOptions", "apiVersion": "v1",
            "preconditions": preconditions or None, "propagationPolicy": propagation_policy,
            "gracePeriodSeconds": grace_period_seconds, "dryRun": ["All"] if dry_run else None,
        })
        await self.request("DELETE", resource.path(namespace, name), body=options)

    # --- transport --------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: Params | None = None,  # noqa: PLR0913
                      body: Any = None, content_type: str = JSON,
                      timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - a request's own limit, once it has a connection
        """The raw body of a successful answer; an error status raises its `APIError`."""
        limit = aiohttp.ClientTimeout(total=timeout or self._timeout)
        async with self._request_slot(path):
            response = await self._open(method, path, params=params, body=body,
                                        content_type=content_type, timeout=limit)
            async with response:
                return await _read(response)

    async def _open(self, method: str, path: str, *, params: Params | None, body: Any = None,  # noqa: PLR0913
                    content_type: str = JSON, watch: bool = False,
                    timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:  # noqa: ASYNC109 - aiohttp's own timeout
        send = functools.partial(self._send, method, path, params=params, body=body,
                                 content_type=content_type, timeout=timeout, watch=watch)
        if self._breaker is None or path.startswith(LEADERSHIP):
            return await send()
        try:
            return await self._breaker.call(send)
        except CircuitOpenError as exc:
            raise APIConnectionError(f"{method} {path}: {exc}") from exc

    async def _send(self, method: str, path: str, *, params: Params | None, body: Any = None,  # noqa: PLR0913
                    content_type: str = JSON, watch: bool = False,
                    timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:  # noqa: ASYNC109 - aiohttp's own timeout
        connection, session = self._connected(watch=watch)
        data = body if body is None or isinstance(body, bytes) else msgspec.json.encode(body)
        await (self._leadership if path.startswith(LEADERSHIP) else self._limiter).acquire()
        for retry_auth in (True, False):
            headers = {"Content-Type": content_type}
            if authorization := await connection.credentials.authorization():
                headers["Authorization"] = authorization
            try:
                response = await session.request(
                    method, connection.host + path, params=params, data=data, headers=headers,
                    timeout=timeout, server_hostname=connection.server_hostname,
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                metrics.KUBE_CONNECTION_ERRORS.inc()
                raise APIConnectionError.of(f"{method} {path}", exc) from exc
            if response.status < 400:
                return response
            async with response:
                error = _error(response, await _read(response, check=False))
            if not (error.status == 401 and retry_auth and await self._refresh(connection)):
                raise error
            session = self._connected(watch=watch)[1]
        raise AssertionError("unreachable")  # pragma: no cover

    async def _refresh(self, connection: connections.Connection) -> bool:
        """Renew the credentials after a 401; with a new client certificate, reconnect."""
        before = connection.credentials.client_certificate()
        if not await connection.credentials.refresh():
            return False
        if connection.credentials.client_certificate() != before and \
                connections.reload_certificate(connection):
            # Pooled connections keep the old certificate's handshake: new sessions make new
            # ones. Requests and watches still running finish on the old ones.
            self._retired += [s for s in (self._session, self._watch_session) if s is not None]
            self._session, self._watch_session = self._sessions(connection)
        return True

    def _sessions(self, connection: connections.Connection,
                  ) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        # No limit in either connector: the request slots bound requests, and a connector's
        # own queue would count against the request's timeout.
        request, watch = (aiohttp.ClientSession(
            headers={"Accept": JSON, "User-Agent": self.user_agent},
            connector=aiohttp.TCPConnector(limit=0, ssl=connection.ssl),
        ) for _ in range(2))
        return request, watch

    def _connected(self, *, watch: bool = False,
                   ) -> tuple[connections.Connection, aiohttp.ClientSession]:
        session = self._watch_session if watch else self._session
        if self._connection is None or session is None:
            raise KubeError("use the client inside `async with`")
        return self._connection, session


async def _read(response: aiohttp.ClientResponse, *, check: bool = True) -> bytes:
    try:
        body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise APIConnectionError.of(f"reading {response.url.path}", exc) from exc
    if check and response.status >= 400:
        raise _error(response, body)
    return body


async def _lines(response: aiohttp.ClientResponse, batch_window: float = 0.0,
                 ) -> AsyncIterator[bytes]:
    """Newline-delimited chunks, however the transport splits them (objects can be large)."""
    buffer = bytearray()
    connection = response.connection
    pacer = (Pacer(connection.transport, batch_window)
             if batch_window > 0 and connection is not None else None)
    if pacer is not None:
        # At its end the stream gives its connection back to the pool, for any request.
        response.content.on_eof(pacer.release)
    try:
        async for chunk in response.content.iter_any():
            buffer += chunk
            while (end := buffer.find(b"\n")) >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                if line.strip():
                    yield line
            if pacer is not None and not response.content.is_eof():
                pacer.after_read(len(chunk))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise APIConnectionError.of(f"watch {response.url.path}", exc) from exc
    finally:
        if pacer is not None:
            pacer.release()
    if buffer.strip():
        yield bytes(buffer)


def _watch_event(record: type[R], line: bytes) -> WatchEvent[R] | Undecodable:
    # One decode on the hot path; only a line that is an ERROR (its object a Status, which
    # may not fit the record) or an object that does not fit is decoded a second time.
    try:
        event: WatchEvent[R] = decode(WatchEvent[record], line)  # type: ignore[valid-type]
    except InvalidResponseError as exc:
        if b'"ERROR"' not in line or decode(WatchEvent[Object], line).type != "ERROR":
            skeleton = decode(WatchEvent[Object], line)  # not even metadata: the stream is bad
            return Undecodable(skeleton.type, skeleton.object, str(exc))
    else:
        if event.type != "ERROR":
            return event
    status = decode(WatchEvent[Status], line).object
    raise for_status(status.code or 500, status.reason, status.message, line)


def _error(response: aiohttp.ClientResponse, body: bytes) -> APIError:
    try:
        status = msgspec.json.decode(body, type=Status)
    except msgspec.DecodeError:
        status = Status(message=body[:200].decode(errors="replace"))
    return for_status(
        response.status, status.reason or (response.reason or ""), status.message, body,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(header: str | None) -> float | None:
    try:
        seconds = float(header) if header else None
    except ValueError:
        return None  # an HTTP date: the caller's own backoff applies
    # A server (or a proxy in front of it) asking for an hour must not park a caller that long.
    return None if seconds is None else min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _drop_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "", {}, [])}


def _subpath(path: str, subresource: str | None) -> str:
    return f"{path}/{subresource}" if subresource else path
