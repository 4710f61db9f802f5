"""The Authentik API client: one aiohttp session, a breaker, retries, and the endpoints we use.

The real contract, which the simulated Authentik also keeps: lists are paginated and the last
page says `pagination.next == 0` (pages are capped at 100 objects); providers are found by
`name__iexact` (there is no plain `name` filter); applications are addressed by slug; a PATCH
of a proxy provider must carry `mode`; a bad token answers 403; a 400 body maps field names to
messages. Connection errors, timeouts and 5xx answers are retried with backoff (idempotent
requests only) through a circuit breaker whose state is exported as a metric.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
import msgspec
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from gitops_lifecycle import logs
from gitops_lifecycle.authentik import metrics
from gitops_lifecycle.authentik.errors import (
    AuthentikError,
    ForbiddenError,
    IncompleteListError,
    NotFoundError,
    RejectedError,
    UnavailableError,
    field_errors,
)
from gitops_lifecycle.authentik.models import (
    EMBEDDED_OUTPOST,
    Application,
    Flow,
    Outpost,
    Pagination,
    Provider,
)
from gitops_lifecycle.authentik.token import TokenSource
from gitops_lifecycle.retry.breaker import Breaker, CircuitOpenError
from gitops_lifecycle.settings import AuthentikSettings, CircuitBreakerSettings

log = logs.get("authentik")

API = "/api/v3"
PROVIDERS = f"{API}/providers/proxy/"
APPLICATIONS = f"{API}/core/applications/"
OUTPOSTS = f"{API}/outposts/instances/"
FLOWS = f"{API}/flows/instances/"
ME = f"{API}/core/users/me/"
VERSION = f"{API}/admin/version/"
ENDPOINTS = {
    PROVIDERS: "providers", APPLICATIONS: "applications", OUTPOSTS: "outposts",
    FLOWS: "flows", ME: "me", VERSION: "version",
}
"""Path prefix → the `endpoint` label of the request metrics (a small, fixed set)."""
IDEMPOTENT = frozenset({"GET", "PATCH", "PUT", "DELETE"})
Gate = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Runs one write (with its retries) or refuses it: how a caller bounds when writes happen."""

M = TypeVar("M")


class CircuitOpenedError(UnavailableError):
    """The breaker is open: the request was not sent."""


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, UnavailableError) and not isinstance(exc, CircuitOpenedError)


def endpoint(path: str) -> str:
    """The metrics label of a request path."""
    for prefix, label in ENDPOINTS.items():
        if path.startswith(prefix):
            return label
    return "other"


class Authentik:
    """An async context manager holding the session; every call may raise `AuthentikError`."""

    def __init__(
        self,
        settings: AuthentikSettings,
        *,
        circuit: CircuitBreakerSettings,
        tokens: TokenSource | None = None,
        backoff: float = 0.5,
        gate: Gate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate
        """Every write (not GET) runs through it, retries included."""
        self.url = settings.url.rstrip("/")
        self._tokens = tokens or TokenSource(
            token=settings.token.get_secret_value(), path=settings.token_file
        )
        self._breaker = Breaker("authentik", circuit, failures=(UnavailableError,))
        self._backoff = backoff
        self._session: aiohttp.ClientSession | None = None
        self._flows: dict[str, str] = {}
        self._flow_lock = asyncio.Lock()
        metrics.publish_circuit(self._breaker.state)

    @classmethod
    def from_settings(cls, settings: AuthentikSettings, circuit: CircuitBreakerSettings) -> Self:
        """A client for `authentik.*`, its breaker tuned by `retry.circuitBreaker`."""
        return cls(settings, circuit=circuit)

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def circuit_state(self) -> str:
        """`closed`, `open` or `half_open`."""
        return self._breaker.state

    # --- transport --------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None) -> Any:
        """The decoded JSON answer (None for 204); errors raise an `AuthentikError`."""
        if self.gate is not None and method != "GET":
            return await self.gate(lambda: self._retrying(method, path, params, body))
        return await self._retrying(method, path, params, body)

    async def _retrying(self, method: str, path: str, params: dict[str, Any] | None,
                        body: Any) -> Any:
        attempts = self.settings.attempts if method in IDEMPOTENT else 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self._backoff, max=10 * self._backoff)
            + wait_random(0, self._backoff),
            retry=retry_if_exception(_transient), reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._through_breaker(method, path, params, body)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _through_breaker(self, method: str, path: str, params: dict[str, Any] | None,
                               body: Any) -> Any:
        try:
            return await self._breaker.call(self._send, method, path, params, body)
        except CircuitOpenError as exc:
            metrics.count(endpoint(path), "circuit_open")
            raise CircuitOpenedError(f"{method} {path}: {exc}") from None
        finally:
            metrics.publish_circuit(self._breaker.state)

    async def _send(self, method: str, path: str, params: dict[str, Any] | None,
                    body: Any) -> Any:
        if self._session is None:
            raise RuntimeError("use the client inside `async with`")
        data = None if body is None else msgspec.json.encode(body)
        label = endpoint(path)
        for may_refresh in (True, False):
            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            if authorization := self._tokens.header():
                headers["Authorization"] = authorization
            started = time.perf_counter()
            try:
                async with self._session.request(
                    method, self.url + path, params=_query(params), data=data, headers=headers
                ) as response:
                    status = response.status
                    raw = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                metrics.count(label, "error")
                # The exception names the host and the kind of failure, never the headers.
                raise UnavailableError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
            finally:
                metrics.observe(label, time.perf_counter() - started)
            metrics.count(label, str(status))
            if status < 400:
                return _decode(raw) if raw else None
            if status == 403 and may_refresh and self._tokens.refresh():
                log.info("Authentik refused the token; retrying with the token file's new one")
                continue
            raise _error(method, path, status, raw)
        raise AssertionError("unreachable")  # pragma: no cover

    async def list_all(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every object of a listing, following `pagination.next` until it is 0.

        Any failure part-way raises `IncompleteListError`: a partial list is never returned.
        """
        items: list[Any] = []
        page = 1
        query = {**(params or {}), "page_size": self.settings.page_size, "ordering": "pk"}
        while True:
            try:
                data = await self.request("GET", path, params={**query, "page": page})
            except AuthentikError as exc:
                raise IncompleteListError(f"listing {path} stopped at page {page}: {exc}") from exc
            try:
                pagination = msgspec.convert(data["pagination"], Pagination)
                results = data["results"]
            except (KeyError, TypeError, msgspec.ValidationError) as exc:
                raise IncompleteListError(f"listing {path}: page {page} is not a page") from exc
            if not isinstance(results, list):
                raise IncompleteListError(f"listing {path}: page {page} has no results list")
            items.extend(results)
            if pagination.next == 0:
                return items
            if pagination.next <= page:
                raise IncompleteListError(f"listing {path}: page {page} points back to "
                                          f"{pagination.next}")
            page = pagination.next

    # --- typed helpers ----------------------------------------------------------------------
    async def providers(self, **filters: Any) -> list[Provider]:
        """Every proxy provider (optionally filtered)."""
        return _convert_all(await self.list_all(PROVIDERS, filters), Provider)

    async def provider_named(self, name: str) -> Provider | None:
        """The proxy provider called `name` (case-insensitive, as Authentik compares)."""
        found = await self.providers(name__iexact=name)
        return found[0] if found else None

    async def provider(self, pk: int) -> Provider | None:
        """The proxy provider `pk`, or None."""
        return await self._get_or_none(f"{PROVIDERS}{pk}/", Provider)

    async def create_provider(self, body: dict[str, Any]) -> Provider:
        return _convert(await self.request("POST", PROVIDERS, body=body), Provider)

    async def patch_provider(self, pk: int, body: dict[str, Any]) -> Provider:
        """PATCH a provider; Authentik validates a PATCH without `mode` as mode `proxy`."""
        if "mode" not in body:
            raise ValueError("a proxy provider PATCH must include mode")
        return _convert(await self.request("PATCH", f"{PROVIDERS}{pk}/", body=body), Provider)

    async def delete_provider(self, pk: int) -> bool:
        """Delete provider `pk`; False when it was already gone."""
        return await self._delete(f"{PROVIDERS}{pk}/")

    async def applications(self, **filters: Any) -> list[Application]:
        """Every application (the full list even where policies hide some from the token)."""
        found = await self.list_all(APPLICATIONS, {"superuser_full_list": "true", **filters})
        return _convert_all(found, Application)

    async def application(self, slug: str) -> Application | None:
        return await self._get_or_none(f"{APPLICATIONS}{slug}/", Application)

    async def create_application(self, body: dict[str, Any]) -> Application:
        return _convert(await self.request("POST", APPLICATIONS, body=body), Application)

    async def patch_application(self, slug: str, body: dict[str, Any]) -> Application:
        data = await self.request("PATCH", f"{APPLICATIONS}{slug}/", body=body)
        return _convert(data, Application)

    async def delete_application(self, slug: str) -> bool:
        return await self._delete(f"{APPLICATIONS}{slug}/")

    async def outposts(self, **filters: Any) -> list[Outpost]:
        return _convert_all(await self.list_all(OUTPOSTS, filters), Outpost)

    async def outpost(self, pk: str) -> Outpost | None:
        return await self._get_or_none(f"{OUTPOSTS}{pk}/", Outpost)

    async def find_outpost(self, name: str = "") -> Outpost | None:
        """The outpost called `name`, or the embedded one when `name` is empty."""
        found = await (self.outposts(name__iexact=name) if name
                       else self.outposts(managed__iexact=EMBEDDED_OUTPOST))
        return found[0] if found else None

    async def set_outpost_providers(self, pk: str, providers: list[int]) -> Outpost:
        """PATCH an outpost's `providers` (which replaces the whole list)."""
        data = await self.request("PATCH", f"{OUTPOSTS}{pk}/", body={"providers": providers})
        return _convert(data, Outpost)

    async def flow_pk(self, slug: str) -> str | None:
        """The pk of the flow `slug` (cached: flows are not renamed under us)."""
        if slug in self._flows:
            return self._flows[slug]
        async with self._flow_lock:  # many reconciles ask at once at start: ask Authentik once
            if slug in self._flows:
                return self._flows[slug]
            found = _convert_all(await self.list_all(FLOWS, {"slug": slug}), Flow)
            match = next((flow.pk for flow in found if flow.slug == slug), None)
            if match is not None:
                self._flows[slug] = match
            return match

    async def me(self) -> dict[str, Any]:
        """Who the token belongs to (a token check)."""
        data = await self.request("GET", ME)
        user = data.get("user", data) if isinstance(data, dict) else {}
        return user if isinstance(user, dict) else {}

    async def version(self) -> str:
        """The server's version (`2025.10.1`)."""
        data = await self.request("GET", VERSION)
        version = data.get("version_current") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise AuthentikError("the version endpoint did not say a version")
        return version

    async def _get_or_none(self, path: str, model: type[M]) -> M | None:
        try:
            return _convert(await self.request("GET", path), model)
        except NotFoundError:
            return None

    async def _delete(self, path: str) -> bool:
        try:
            await self.request("DELETE", path)
        except NotFoundError:
            return False
        return True


def _query(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {key: str(value) for key, value in params.items() if value is not None}


def _decode(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise UnavailableError(f"Authentik answered something that is not JSON: {exc}") from None


def _convert(data: Any, model: type[M]) -> M:
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        raise AuthentikError(f"unexpected {model.__name__} from Authentik: {exc}") from None


def _convert_all(items: list[Any], model: type[M]) -> list[M]:
    return [_convert(item, model) for item in items]


def _error(method: str, path: str, status: int, raw: bytes) -> AuthentikError:
    text = raw[:500].decode("utf-8", "replace")
    if status >= 500 or status == 429:
        return UnavailableError(f"{method} {path}: HTTP {status}")
    if status in {401, 403}:
        return ForbiddenError(f"{method} {path}: HTTP {status}: the token was refused "
                              "(missing, wrong, revoked, or without permission)")
    if status == 404:
        return NotFoundError(f"{method} {path}: not found")
    try:
        body = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        body = None
    return RejectedError(status, field_errors(body), text)

