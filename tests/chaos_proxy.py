"""A misbehaving network between one daemon and the simulated API server, with a log.

Each replica talks to the cluster through its own proxy, so that the log says which replica
sent what and when it reached the server. While `chaos` is on, requests of every kind (the
Lease's included) are randomly stalled before they reach the server, answered 500, 429 (with
Retry-After) or 504 instead, or answered so after the server acted; watch streams are cut
after a few seconds. A client that gives up on a stalled request closes its connection, and
the request never reaches the server (the handler is cancelled), as with a real proxy.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

FAULTS = (500, 429, 504)
PASSED_HEADERS = ("Authorization", "Content-Type", "Accept", "User-Agent")


@dataclass(frozen=True)
class Forwarded:
    """A request that reached the server: when (monotonic), what, and the server's answer."""

    replica: str
    at: float
    method: str
    path: str
    status: int
    holder: str | None = None
    """For a Lease write the server accepted: the holder it wrote."""


@dataclass
class ChaosProxy:
    replica: str
    upstream: str
    rng: random.Random
    log: list[Forwarded]
    chaos: bool = False
    error_rate: float = 0.08
    stall_rate: float = 0.08
    max_stall: float = 2.5
    url: str = ""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    cut_off_until: float = 0.0
    """Until this monotonic time every request waits (a partition); then it goes on."""
    injected: dict[str, int] = field(default_factory=dict)
    """How many of each trouble: `500`, `429`, `504`, `stall`, `cut`, and `lease` (any
    trouble that hit a Lease request)."""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        watch = request.query.get("watch") in {"1", "true"}
        fault = self.rng.choice(FAULTS) if self.chaos and self.rng.random() < self.error_rate \
            else None
        stall = self.chaos and self.rng.random() < self.stall_rate
        if fault is not None:
            self._count(str(fault), request)
        if stall:
            self._count("stall", request)
            await asyncio.sleep(self.rng.uniform(0.2, self.max_stall))
        if (partitioned := self.cut_off_until - time.monotonic()) > 0:
            self._count("partition", request)
            await asyncio.sleep(partitioned)
        if fault is not None and self.rng.random() < 0.5:
            return _failure(fault)  # refused before the server saw it
        headers = {k: v for k, v in request.headers.items() if k in PASSED_HEADERS}
        async with self._session.request(request.method, self.upstream + request.path_qs,
                                         data=body or None, headers=headers) as upstream:
            self._note(request, body, upstream.status)
            if watch and upstream.status == 200:
                return await self._stream(request, upstream)
            payload = await upstream.read()
        if fault is not None:
            return _failure(fault)  # the server acted, but the answer is lost
        return web.Response(body=payload, status=upstream.status,
                            content_type=upstream.content_type)

    async def _stream(self, request: web.Request,
                      upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        await response.prepare(request)
        try:
            # A watch opened before the chaos began is cut too, once it has: look again every
            # few seconds whether chaos is on.
            while not await self._relay(upstream, response, self.rng.uniform(1.0, 6.0)):
                if self.chaos:
                    self._count("cut", request)
                    if request.transport is not None:
                        request.transport.abort()  # a dropped watch, mid-stream
                    return response
        except (aiohttp.ClientError, ConnectionResetError):
            return response
        await response.write_eof()
        return response

    @staticmethod
    async def _relay(upstream: aiohttp.ClientResponse, response: web.StreamResponse,
                     seconds: float) -> bool:
        """Pass the stream on for `seconds`; True when the upstream ended it."""
        try:
            async with asyncio.timeout(seconds):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
        except TimeoutError:
            return False
        return True

    def _count(self, trouble: str, request: web.Request) -> None:
        self.injected[trouble] = self.injected.get(trouble, 0) + 1
        if "/leases" in request.path:
            self.injected["lease"] = self.injected.get("lease", 0) + 1

    def _note(self, request: web.Request, body: bytes, status: int) -> None:
        holder = None
        if "/leases" in request.path and request.method in {"PUT", "POST"} and status < 300:
            holder = json.loads(body).get("spec", {}).get("holderIdentity") or ""
        self.log.append(Forwarded(self.replica, time.monotonic(), request.method,
                                  request.path, status, holder))


def _failure(status: int) -> web.Response:
    reasons = {500: "InternalError", 429: "TooManyRequests", 504: "Timeout"}
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status,
            "reason": reasons[status], "message": f"chaos: {status}"}
    headers = {"Retry-After": "1"} if status == 429 else {}
    return web.json_response(body, status=status, headers=headers)
