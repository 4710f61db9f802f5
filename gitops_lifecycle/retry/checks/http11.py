"""One HTTP/1.1 request over asyncio streams with h11: small enough for a 48 MiB init container.

aiohttp alone adds about 10 MiB to a process; the `wait` checks need one request at a time,
through a proxy when the environment names one (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as curl
and client-go read them), with TLS, and the body only when asked for, up to a limit.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import os
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

import h11

from gitops_lifecycle import __version__
from gitops_lifecycle.retry.errors import NotReady

if TYPE_CHECKING:
    import ssl
    from urllib.parse import SplitResult

_CHUNK = 65536
_PORTS = {"http": 80, "https": 443}
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
USER_AGENT = f"gitops-lifecycle-wait/{__version__}"


@dataclasses.dataclass
class Response:
    """Status, headers (names in lower case), the URL answered and the body read."""

    status: int
    headers: list[tuple[str, str]]
    url: str
    body: bytes = b""
    complete: bool = True

    def header(self, name: str) -> str | None:
        """The first value of header `name`, or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


@dataclasses.dataclass(frozen=True)
class Request:
    """What to ask, and how to reach the server."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    tls: ssl.SSLContext | bool = True
    server_hostname: str | None = None
    proxy: str | None = None
    read_body: int = 0


async def fetch(request: Request, *, follow_redirects: bool = False) -> Response:
    """Send `request`, following redirects if asked (at most ten, as browsers and curl do)."""
    response = await send(request)
    hops = 0
    while follow_redirects and response.status in REDIRECTS and response.header("location"):
        hops += 1
        if hops > MAX_REDIRECTS:
            msg = f"too many redirects ({MAX_REDIRECTS}), the last to {response.url}"
            raise NotReady(msg)
        request = _redirected(request, response)
        response = await send(request)
    return response


def _redirected(request: Request, response: Response) -> Request:
    target = urljoin(request.url, response.header("location") or "")
    method = request.method
    if response.status == 303 or (response.status in (301, 302) and method == "POST"):
        method = "GET"
    headers = request.headers
    if urlsplit(target).netloc != urlsplit(request.url).netloc:
        # Never hand credentials meant for one host to another.
        headers = tuple((k, v) for k, v in headers if k.lower() != "authorization")
    return dataclasses.replace(request, method=method, url=target, headers=headers)


async def send(request: Request) -> Response:
    """One request on a new connection, closed afterwards."""
    url = urlsplit(request.url)
    proxy = request.proxy if request.proxy is not None else proxy_for(request.url)
    reader, writer = await _connect(url, request, proxy)
    try:
        target = request.url if proxy and url.scheme == "http" else _origin_form(url)
        headers = [("Host", url.netloc.rpartition("@")[2]), ("User-Agent", USER_AGENT),
                   ("Accept", "*/*"), ("Connection", "close"), *request.headers]
        if proxy and url.scheme == "http":
            headers += _proxy_authorization(proxy)
        if url.username and not any(k.lower() == "authorization" for k, _ in request.headers):
            headers += _basic("Authorization", url)
        connection = h11.Connection(h11.CLIENT)
        writer.write(connection.send(h11.Request(method=request.method, target=target,
                                                 headers=headers)) or b"")
        writer.write(connection.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return await _receive(connection, reader, request)
    except h11.ProtocolError as exc:
        raise NotReady(f"not an HTTP/1.1 answer: {exc}") from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()


async def _receive(connection: h11.Connection, reader: asyncio.StreamReader,
                   request: Request) -> Response:
    head = await _next(connection, reader)
    while isinstance(head, h11.InformationalResponse):
        head = await _next(connection, reader)
    if not isinstance(head, h11.Response):
        raise NotReady("the connection closed before an HTTP answer")
    response = Response(
        status=head.status_code, url=request.url,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers],
    )
    if request.read_body:
        response.body, response.complete = await _body(connection, reader, request.read_body)
    return response


async def _body(connection: h11.Connection, reader: asyncio.StreamReader,
                limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether that is all of it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await _next(connection, reader)
        if isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
            size += len(event.data)
            if size > limit:
                return b"".join(chunks)[:limit], False
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return b"".join(chunks), True


async def _next(connection: h11.Connection, reader: asyncio.StreamReader) -> h11.Event:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        connection.receive_data(await reader.read(_CHUNK))


def _origin_form(url: SplitResult) -> str:
    return (url.path or "/") + (f"?{url.query}" if url.query else "")


async def _connect(url: SplitResult, request: Request,
                   proxy: str | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if url.scheme not in _PORTS or not url.hostname:
        raise NotReady(f"cannot request {url.geturl()!r}: expected http:// or https://")
    port = url.port or _PORTS[url.scheme]
    tls = request.tls if url.scheme == "https" else None
    hostname = request.server_hostname or url.hostname
    if not proxy:
        return await asyncio.open_connection(
            url.hostname, port, ssl=tls or None,
            server_hostname=hostname if tls else None)
    via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    reader, writer = await asyncio.open_connection(via.hostname, via.port or 80)
    if tls:
        await _tunnel(reader, writer, f"{_bracketed(url.hostname)}:{port}", proxy)
        await writer.start_tls(tls if not isinstance(tls, bool) else _default_tls(),
                               server_hostname=hostname)
    return reader, writer


def _default_tls() -> ssl.SSLContext:
    import ssl

    return ssl.create_default_context()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str,
                  proxy: str) -> None:
    """CONNECT through the proxy; afterwards the stream is the server's."""
    connection = h11.Connection(h11.CLIENT)
    writer.write(connection.send(h11.Request(
        method="CONNECT", target=authority,
        headers=[("Host", authority), *_proxy_authorization(proxy)])) or b"")
    await writer.drain()
    answer = await _next(connection, reader)
    if not isinstance(answer, h11.Response) or answer.status_code != 200:
        status = getattr(answer, "status_code", "no answer")
        raise NotReady(f"proxy refused CONNECT {authority}: {status}")


def _proxy_authorization(proxy: str) -> list[tuple[str, str]]:
    via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return _basic("Proxy-Authorization", via) if via.username else []


def _basic(header: str, url: SplitResult) -> list[tuple[str, str]]:
    raw = f"{unquote(url.username or '')}:{unquote(url.password or '')}".encode()
    return [(header, f"Basic {base64.b64encode(raw).decode()}")]


def _env(name: str) -> str:
    return os.environ.get(name.lower()) or os.environ.get(name) or ""


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url`, as curl and Go read it, or None."""
    parts = urlsplit(url)
    proxy = _env("HTTPS_PROXY") if parts.scheme == "https" else _env("HTTP_PROXY")
    if not proxy or bypassed(parts.hostname or "", parts.port, _env("NO_PROXY")):
        return None
    return proxy


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY (names, .suffixes, *, host:port, IPs and CIDR blocks) covers host."""
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and port is not None and str(port) != entry_port:
            continue
        name = name.strip("[]")
        if _address_match(host, name) or host == name.lstrip(".") or host.endswith(
                "." + name.lstrip(".")):
            return True
    return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (head.count(":") == 0 or head.endswith("]"))


def _address_match(host: str, entry: str) -> bool:
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
