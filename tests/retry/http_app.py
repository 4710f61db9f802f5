"""A small aiohttp application the `wait http` tests poll: `python http_app.py PORT [CERT KEY
[CLIENT_CA]]`."""

from __future__ import annotations

import ssl
import sys

from aiohttp import web


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "checks": {"database": {"up": True}}})


async def starting(_request: web.Request) -> web.Response:
    return web.json_response({"status": "starting"}, status=503)


async def moved(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/health")


async def echo_header(request: web.Request) -> web.Response:
    if request.headers.get("X-Token") != "letmein":
        return web.Response(status=401)
    return web.Response(text="welcome")


async def events(request: web.Request) -> web.StreamResponse:
    """An event stream that never ends: a client must not read it to the end."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: ready\n\n")
    chunk = b": " + b"x" * 65536 + b"\n\n"
    while True:
        await response.write(chunk)


async def loop(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def version(_request: web.Request) -> web.Response:
    return web.json_response({"version": "1.0", "build": 7},
                             headers={"X-Ready": "yes", "X-Api-Version": "2"})


def main() -> None:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/starting", starting)
    app.router.add_get("/moved", moved)
    app.router.add_get("/private", echo_header)
    app.router.add_get("/events", events)
    app.router.add_get("/loop", loop)
    app.router.add_get("/version", version)
    context = None
    if len(sys.argv) > 2:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        if len(sys.argv) > 4:  # a CA whose clients alone may connect (mutual TLS)
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(sys.argv[4])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context,
                print=None, handle_signals=True)


if __name__ == "__main__":
    main()
