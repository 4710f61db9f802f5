"""The aiohttp application: URL layout of the Kubernetes API, verbs, and the request log."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from gitops_lifecycle.clock import Clock
from gitops_lifecycle.simulation.kubeapi import (
    admission,
    apply,
    control,
    conversion,
    discovery,
    errors,
    listoptions,
    openapi,
    patching,
    reviews,
    scale,
    tables,
)
from gitops_lifecycle.simulation.kubeapi.catalog import Catalog
from gitops_lifecycle.simulation.kubeapi.faults import REQUEST_LISTENERS, Faults, RequestRecord
from gitops_lifecycle.simulation.kubeapi.fieldmanager import manager_of
from gitops_lifecycle.simulation.kubeapi.paging import ListRequest, list_objects
from gitops_lifecycle.simulation.kubeapi.registry import DeleteOptions, Registry, Write
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType
from gitops_lifecycle.simulation.kubeapi.selectors import combine, field_matcher, label_matcher
from gitops_lifecycle.simulation.kubeapi.store import Obj
from gitops_lifecycle.simulation.kubeapi.watching import (
    CLOSE,
    DROP,
    SILENCE,
    Watcher,
    WatchRequest,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SUBRESOURCES = frozenset({"status", "eviction", "finalize", "scale"})
_RECORD: contextvars.ContextVar[RequestRecord] = contextvars.ContextVar("request_record")


# Stores that answer a completed DELETE with the object (`ReturnDeletedObject`); the others
# answer `Status{status: Success}` naming what went (k8s.io/apiserver registry/generic).
_RETURNS_DELETED = frozenset({"pods", "services", "persistentvolumeclaims",
                              "persistentvolumes", "namespaces"})


def _deleted(rt: ResourceType, obj: Obj) -> dict[str, Any]:
    """`Store.finalizeDelete`: what went, `kind` being the resource (an empty group is
    omitted, as Go's `omitempty` does)."""
    details = {"name": obj["metadata"]["name"], "group": rt.group, "kind": rt.plural,
               "uid": obj["metadata"]["uid"]}
    if not rt.group:
        del details["group"]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON response encoded with msgspec."""
    return web.Response(body=msgspec.json.encode(body), status=status,
                        content_type="application/json")


def present(rt: ResourceType, obj: Obj) -> dict[str, Any]:
    """An object as a client of this resource's version sees it."""
    return {"kind": rt.kind, "apiVersion": rt.api_version, **conversion.view(rt, obj)}


@dataclass(frozen=True)
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch: bool


def _parse(catalog: Catalog, group: str, version: str, parts: list[str]) -> Target | None:
    watch = bool(parts) and parts[0] == "watch"
    if watch:
        parts = parts[1:]
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] not in _SUBRESOURCES:
        namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3:
        return None
    rt = catalog.by_path(group, version, parts[0])
    if rt is None or (namespace is not None and not rt.namespaced):
        return None
    name = parts[1] if len(parts) > 1 else None
    subresource = parts[2] if len(parts) > 2 else None
    return Target(rt, namespace, name, subresource, watch)


@dataclass
class ApiServer:
    """Serves the registry over HTTP as the Kubernetes API."""

    registry: Registry
    faults: Faults
    clock: Clock
    bookmark_interval: float = 60.0
    requests: list[RequestRecord] = field(default_factory=list)

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)
        app.router.add_get("/healthz", self._ok)
        app.router.add_get("/readyz", self._ok)
        app.router.add_get("/livez", self._ok)
        app.router.add_get("/openapi/v2", self._openapi_v2)
        app.router.add_get("/openapi/v3", self._openapi_v3)
        app.router.add_get("/openapi/v3/{tail:.*}", self._openapi_v3)
        app.router.add_route("*", "/api", self._core)
        app.router.add_route("*", "/api/", self._core)
        app.router.add_route("*", "/api/{version}", self._core)
        app.router.add_route("*", "/api/{version}/{tail:.*}", self._core)
        app.router.add_route("*", "/apis", self._groups)
        app.router.add_route("*", "/apis/", self._groups)
        app.router.add_route("*", "/apis/{group}", self._groups)
        app.router.add_route("*", "/apis/{group}/{version}", self._groups)
        app.router.add_route("*", "/apis/{group}/{version}/{tail:.*}", self._groups)
        control.Control(faults=self.faults, clock=self.clock, store=self.registry.store,
                        requests=self.requests).add_routes(app)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(control.PREFIX):
            return await handler(request)  # the control endpoint: never logged nor faulted
        record = RequestRecord(request.method, request.path, dict(request.query),
                               time=self.clock.now(),
                               user_agent=request.headers.get("User-Agent", ""))
        self.requests.append(record)
        for listener in REQUEST_LISTENERS:
            listener(record)
        _RECORD.set(record)
        warnings: list[str] = []
        admission.WARNINGS.set(warnings)
        response: web.StreamResponse | None = await self.faults.intercept(request)
        if response is None:
            try:
                response = await handler(request)
            except errors.ApiError as exc:
                response = json_response(exc.status(), status=exc.code)
            except web.HTTPException as exc:
                body = errors.ApiError(exc.status, "NotFound" if exc.status == 404 else
                                       "BadRequest", exc.reason).status()
                response = json_response(body, status=exc.status)
        if record.status is None:
            record.status = response.status
        if warnings and not response.prepared:
            for message in warnings:
                response.headers.add("Warning", '299 - "' + message.replace('"', '\\"') + '"')
        return response

    async def _version(self, _: web.Request) -> web.Response:
        return json_response(discovery.version())

    async def _ok(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    def served(self) -> list[ResourceType]:
        """Every resource the server serves now."""
        return list(self.registry.catalog.resources)

    def custom_schemas(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The schemas of custom resources, by (apiVersion, kind)."""
        return self.registry.catalog.custom_schemas()

    async def _openapi_v2(self, _: web.Request) -> web.Response:
        return json_response(openapi.v2(self.served(), self.custom_schemas()))

    async def _openapi_v3(self, request: web.Request) -> web.Response:
        tail = request.match_info.get("tail", "").strip("/")
        if not tail:
            return json_response(openapi.v3_index(self.served(), self.custom_schemas()))
        return _or_404(openapi.v3(tail, self.served(), self.custom_schemas()), request)

    async def _core(self, request: web.Request) -> web.StreamResponse:
        version = request.match_info.get("version")
        if version is None:
            return json_response(discovery.core_versions())
        return await self._resource(request, "", version)

    async def _groups(self, request: web.Request) -> web.StreamResponse:
        group, version = request.match_info.get("group"), request.match_info.get("version")
        if group is None:
            return json_response(discovery.group_list(self.registry.catalog))
        if version is None:
            return _or_404(discovery.group(self.registry.catalog, group), request)
        review = reviews.answer(group, version, request.match_info.get("tail", ""))
        if review is not None and request.method == "POST":
            return json_response(review(await _body(request)), status=201)
        return await self._resource(request, group, version)

    async def _resource(self, request: web.Request, group: str, version: str) -> \
            web.StreamResponse:
        tail = request.match_info.get("tail", "")
        parts = [part for part in tail.split("/") if part]
        if not parts:
            return _or_404(discovery.resource_list(self.registry.catalog, group, version),
                           request)
        target = _parse(self.registry.catalog, group, version, parts)
        if target is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested "
                                  "resource")
        if target.name is None:
            return await self._collection(request, target)
        return await self._object(request, target)

    # -- collections -----------------------------------------------------------------------

    def _matcher(self, rt: ResourceType, query: Any) -> Any:
        return combine(label_matcher(query.get("labelSelector")),
                       field_matcher(query.get("fieldSelector"), rt.field_labels,
                                     lambda label: conversion.field_label(rt, label)))

    async def _collection(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt, query = target.rt, request.query
        method = request.method
        if method == "GET":
            watch = target.watch or flag(query, "watch")
            listoptions.check(query, watch=watch)
        if method == "GET" and watch:
            return await self._watch(request, target)
        if method == "GET":
            page = list_objects(self.registry.store, rt, ListRequest(
                namespace=target.namespace, match=self._matcher(rt, query),
                limit=int(query.get("limit") or 0), continue_token=query.get("continue"),
                resource_version=query.get("resourceVersion"),
                resource_version_match=query.get("resourceVersionMatch"),
            ))
            if tables.wanted(request):
                return json_response(tables.table(
                    rt, page.as_dict(), self.clock.now(),
                    include=query.get("includeObject") or "Metadata"))
            return _raw_response(page.encode(self.registry.store))
        if method == "POST":
            body = await _body(request)
            obj = self.registry.create(rt, body, namespace=target.namespace,
                                       dry_run=_dry_run(query),
                                       field_validation=_field_validation(query),
                                       write=_writer(request))
            return json_response(present(rt, obj), status=201)
        if method == "DELETE":
            return await self._delete_collection(request, target)
        raise errors.method_not_allowed(f"{method} is not supported on a collection")

    async def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        rt = target.rt
        options = DeleteOptions.parse(await _body(request, optional=True), dict(request.query))
        page = list_objects(self.registry.store, rt, ListRequest(
            namespace=target.namespace, match=self._matcher(rt, request.query)))
        listed = page.as_dict()  # `Store.DeleteCollection` answers the list it deleted
        for obj in page.objects():
            meta = obj["metadata"]
            try:
                self.registry.delete(rt, namespace=meta.get("namespace"), name=meta["name"],
                                     options=options)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return json_response(listed)

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt, query = target.rt, request.query
        bookmarks = flag(query, "allowWatchBookmarks")
        watcher = Watcher(store=self.registry.store, rt=rt, request=WatchRequest(
            namespace=target.namespace, match=self._matcher(rt, query),
            resource_version=query.get("resourceVersion"), bookmarks=bookmarks,
            send_initial_events=listoptions.send_initial_events(query),
            present=(lambda obj: tables.row_table(obj, self.clock.now(), rt))
            if tables.wanted(request) else None,
        ))
        watcher.start()
        self.faults.watchers.add(watcher)
        try:
            return await self._stream(request, watcher, query, bookmarks=bookmarks)
        finally:
            watcher.stop()
            self.faults.watchers.discard(watcher)

    async def _stream(
        self, request: web.Request, watcher: Watcher, query: Any, *, bookmarks: bool,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        _RECORD.get().status = 200
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(query.get("timeoutSeconds") or 1800)
        while (remaining := deadline - loop.time()) > 0:
            wait = min(remaining, self.bookmark_interval) if bookmarks else remaining
            try:
                line = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                if wait < remaining:
                    await response.write(watcher.bookmark())  # the periodic one
                    continue
                # The deadline, even if the loop time shows a remainder below its tick: under
                # virtual time a timer that short fires at once, the time never advances while
                # other connections keep the loop busy, and waiting again would spin forever.
                remaining = 0.0
                break
            ending = await _write_batch(response, watcher, line)
            if ending is SILENCE:
                await _until_closed(request)
                return response
            if ending is DROP:
                if request.transport is not None:
                    request.transport.close()
                return response
            if ending is CLOSE:
                break
        if remaining <= 0 and bookmarks:
            await response.write(watcher.bookmark())
        await response.write_eof()
        return response

    # -- single objects --------------------------------------------------------------------

    async def _object(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt, name, sub = target.rt, target.name, target.subresource
        assert name is not None
        namespace, method, query = target.namespace, request.method, request.query
        if sub is not None and (sub not in _SUBRESOURCES or
                                (sub == "status" and not rt.status) or
                                (sub == "scale" and rt.scale is None)):
            raise errors.ApiError(404, "NotFound", "the server could not find the requested "
                                  "resource")
        special = {"eviction": self._evict, "scale": self._scale}.get(sub or "")
        if special is not None:
            return await special(request, target)
        if method == "GET":
            return json_response(present(rt, self.registry.get(rt, namespace, name)))
        if method == "PUT":
            obj, created = self.registry.put(
                rt, await _body(request), namespace=namespace, name=name, subresource=sub,
                dry_run=_dry_run(query), field_validation=_field_validation(query),
                write=_writer(request))
            return json_response(present(rt, obj), status=201 if created else 200)
        if method == "PATCH":
            return await self._patch(request, target)
        if method == "DELETE":
            options = DeleteOptions.parse(await _body(request, optional=True), dict(query))
            if options.dry_run:
                obj, removed = self.registry.dry_delete(rt, namespace=namespace, name=name,
                                                        options=options)
            else:
                obj = self.registry.delete(rt, namespace=namespace, name=name,
                                           options=options)
                removed = self.registry.by_uid(obj["metadata"]["uid"]) is None
            if rt.plural in _RETURNS_DELETED or not removed:
                return json_response(present(rt, obj))
            return json_response(_deleted(rt, obj))
        raise errors.method_not_allowed(f"{method} is not supported on an object")

    async def _scale(self, request: web.Request, target: Target) -> web.Response:
        """The scale subresource of a custom resource or a built-in workload."""
        rt, name, method = target.rt, target.name, request.method
        assert name is not None
        current = self.registry.get(rt, target.namespace, name)
        if method == "GET":
            return json_response(scale.view(rt, current))
        if method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(f"{method} is not supported on scale")
        body = await _body(request)
        wanted = body if method == "PUT" else patching.apply(
            scale.view(rt, current), body, request.headers.get("Content-Type", ""))
        updated = self.registry.replace(
            rt, scale.with_replicas(rt, current, wanted), namespace=target.namespace,
            name=name, dry_run=_dry_run(request.query), write=_writer(request))
        return json_response(scale.view(rt, updated))

    async def _patch(self, request: web.Request, target: Target) -> web.Response:
        rt, query, name = target.rt, request.query, target.name
        assert name is not None
        content_type = request.headers.get("Content-Type", "")
        applying = content_type.split(";", maxsplit=1)[0].strip() == apply.MEDIA_TYPE
        apply.check_options(apply=applying, field_manager=query.get("fieldManager"),
                            force=query.get("force"))
        if applying:
            obj, created = apply.apply(self.registry, apply.Apply(
                rt, target.namespace, name, manager=query["fieldManager"],
                force=flag(query, "force"), dry_run=_dry_run(query),
                field_validation=_field_validation(query), subresource=target.subresource,
            ), await request.read())
            return json_response(present(rt, obj), status=201 if created else 200)
        obj = self.registry.patch(
            rt, await _body(request), namespace=target.namespace, name=name,
            content_type=content_type, subresource=target.subresource,
            dry_run=_dry_run(query), field_validation=_field_validation(query),
            write=_writer(request))
        return json_response(present(rt, obj))

    async def _evict(self, request: web.Request, target: Target) -> web.Response:
        """The eviction subresource: a DELETE with the eviction's options (no budgets)."""
        if request.method != "POST":
            raise errors.method_not_allowed("eviction only supports create")
        body = await _body(request)
        options = DeleteOptions.parse(body.get("deleteOptions"), {})
        assert target.name is not None
        self.registry.delete(target.rt, namespace=target.namespace, name=target.name,
                             options=options)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Success", "code": 201}, status=201)


async def _body(request: web.Request, *, optional: bool = False) -> Any:
    raw = await request.read()
    if not raw.strip():
        if optional:
            return None
        raise errors.bad_request("the request body is empty")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise errors.bad_request(f"the body of the request is not JSON: {exc}") from exc


def _writer(request: web.Request) -> Write:
    """The field manager of a write: `fieldManager`, else the User-Agent's product."""
    return Write(manager_of(request.query.get("fieldManager"),
                            request.headers.get("User-Agent", "")))


def flag(query: Any, name: str) -> bool:
    """A boolean query parameter (`1`, `true`, `True`)."""
    return str(query.get(name, "")).lower() in ("1", "true")


def _raw_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def _dry_run(query: Any) -> bool:
    """`dryRun=All`, the one value the server knows; anything else is a 422."""
    values = query.getall("dryRun", []) if hasattr(query, "getall") else [query.get("dryRun")]
    values = [v for v in values if v]
    for value in values:
        if value != "All":
            raise errors.invalid_causes("CreateOptions", "meta.k8s.io", "", [errors.cause(
                "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: '
                '"All"', "dryRun")])
    return bool(values)


def _field_validation(query: Any) -> str:
    return admission.check_field_validation(query.get("fieldValidation"))


def _or_404(body: dict[str, Any] | None, request: web.Request) -> web.Response:
    if body is None:
        raise errors.ApiError(404, "NotFound", f"the server could not find the requested "
                              f"resource ({request.path})")
    return json_response(body)


async def _write_batch(response: web.StreamResponse, watcher: Watcher, line: bytes) -> bytes | None:
    """Write `line` and whatever else is queued; the sentinel that ended the batch, if one did."""
    batch = [line]
    while not watcher.queue.empty() and batch[-1] not in (CLOSE, DROP, SILENCE):
        batch.append(watcher.queue.get_nowait())
    ending = batch[-1] if batch[-1] in (CLOSE, DROP, SILENCE) else None
    lines = [item for item in batch if item not in (CLOSE, DROP, SILENCE)]
    if lines:
        await response.write(b"".join(lines))
    return ending


async def _until_closed(request: web.Request) -> None:
    """Hold a silent watch open until the client gives up on it (or the server stops)."""
    # aiohttp tells a streaming handler nothing when its client goes: look now and then.
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(1)
