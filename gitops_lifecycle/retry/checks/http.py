"""`wait http URL`: the expected status, and optionally a body pattern or JSON values."""

from __future__ import annotations

import dataclasses
import json
import re
import ssl
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.logs import redact_text
from gitops_lifecycle.retry.checks import http11, tlsfiles
from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import WaitSettings

NAME = "http"
SERVICE = "http"
HELP = "an HTTP endpoint answers with the expected status (and body)"
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
MAX_BODY = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`URL` and what the answer must look like."""
    parser.add_argument("url", metavar="URL",
                        help="the http:// or https:// URL to request; HTTP_PROXY, HTTPS_PROXY "
                        "and NO_PROXY are honoured")
    parser.add_argument("--status", default="200-299",
                        help="accepted codes and ranges, e.g. 200-299,301 (default 200-299)")
    parser.add_argument("--body-regex", help="the body must match this regular expression")
    parser.add_argument("--json", action="append", default=[], metavar="PATH=VALUE",
                        dest="json_checks",
                        help="a JSON body value, e.g. status=ok or checks.db[0].up=true; VALUE "
                        'is compared as JSON (1.0, true, null, "text"), and unquoted it '
                        "also matches the string with that text")
    parser.add_argument("--max-body", type=int, default=MAX_BODY, metavar="BYTES",
                        help="read at most this much of the body, and only for --body-regex "
                        f"or --json (default: {MAX_BODY})")
    parser.add_argument("--header", action="append", default=[], metavar="NAME: VALUE",
                        dest="headers", help="request header (repeatable)")
    parser.add_argument("--expect-header", action="append", default=[], metavar="NAME[=REGEX]",
                        dest="expect_headers",
                        help="the response must carry this header, its value matching REGEX "
                        "when given (repeatable), e.g. Content-Type=json")
    parser.add_argument("--method", default="GET",
                        help="HTTP method of the request, e.g. HEAD (default: GET)")
    parser.add_argument("--no-redirects", action="store_true",
                        help="judge a redirect itself rather than following it")
    tlsfiles.add_arguments(parser)


def parse_statuses(text: str) -> list[tuple[int, int]]:
    """`200-299,301` as inclusive ranges."""
    ranges = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise NotRetryable(f"--status {text!r}: expected codes and ranges like 200-299,301")
        ranges.append((int(low), int(high or low)))
    return ranges


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted path with [index] steps; KeyError when it is not there."""
    value = document
    for name, index in _STEP.findall(path.removeprefix("$").lstrip(".")):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError) as exc:
            raise KeyError(path) from exc
    return value


def json_matches(found: Any, text: str) -> bool:
    """Whether `found` equals VALUE read as JSON, or, VALUE being unquoted, is that string."""
    try:
        wanted = json.loads(text)
    except ValueError:
        return bool(found == text)
    if isinstance(found, str) and not text.lstrip().startswith('"') and found == text:
        return True
    # In Python True == 1 and 1 == 1.0; in JSON a boolean is never a number.
    return bool(found == wanted) and isinstance(found, bool) == isinstance(wanted, bool)


@dataclasses.dataclass
class HttpCheck:
    """One request per attempt, judged by status, then body."""

    url: str
    method: str
    statuses: list[tuple[int, int]]
    headers: dict[str, str]
    body_regex: re.Pattern[str] | None
    json_checks: list[tuple[str, str]]
    tls: ssl.SSLContext | None
    follow_redirects: bool
    max_body: int = MAX_BODY
    expect_headers: list[tuple[str, re.Pattern[str] | None]] = dataclasses.field(
        default_factory=list)

    @property
    def target(self) -> str:
        """The URL without credentials."""
        return redact_text(self.url)

    async def attempt(self, budget: float) -> None:
        """Request, then judge the answer."""
        del budget  # the engine bounds the attempt
        wants_body = self.body_regex is not None or bool(self.json_checks)
        request = http11.Request(
            method=self.method, url=self.url, headers=tuple(self.headers.items()),
            tls=self.tls if self.tls is not None else True,
            # An event stream never ends: read no more than the limit, and only when asked.
            read_body=self.max_body if wants_body else 0,
        )
        try:
            response = await http11.fetch(request, follow_redirects=self.follow_redirects)
        except ssl.SSLCertVerificationError as exc:
            raise NotRetryable(f"TLS verification failed: {describe(exc)}") from exc
        except ssl.SSLError as exc:
            raise NotReady(f"TLS: {describe(exc)}") from exc
        self.judge_status(response.status)
        self.judge_headers(response)
        if wants_body:
            self.judge_body(response.body.decode(errors="replace"), complete=response.complete)

    def judge_status(self, status: int) -> None:
        """Raise NotReady unless the status is accepted."""
        if not any(low <= status <= high for low, high in self.statuses):
            raise NotReady(f"HTTP {status}, expected {_ranges(self.statuses)}")

    def judge_headers(self, response: http11.Response) -> None:
        """Raise NotReady unless every expected header is there, matching its pattern."""
        for name, pattern in self.expect_headers:
            value = response.header(name)
            if value is None:
                raise NotReady(f"no {name} header in the answer")
            if pattern is not None and not pattern.search(value):
                raise NotReady(f"header {name}: {value!r} does not match {pattern.pattern!r}")

    def judge_body(self, body: str, *, complete: bool) -> None:
        """Raise NotReady unless the body (or its first `max_body` bytes) is as expected."""
        where = "" if complete else f" in its first {self.max_body} bytes"
        if self.body_regex is not None and not self.body_regex.search(body):
            raise NotReady(f"body does not match {self.body_regex.pattern!r}{where}")
        if self.json_checks:
            if not complete:
                raise NotReady(f"body is longer than {self.max_body} bytes (--max-body): "
                               "cannot check its JSON")
            self._judge_json(body)

    def _judge_json(self, body: str) -> None:
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise NotReady("body is not JSON") from exc
        for path, wanted in self.json_checks:
            try:
                found = json_path(document, path)
            except KeyError:
                raise NotReady(f"JSON has no {path}") from None
            if not json_matches(found, wanted):
                raise NotReady(f"JSON {path} is {json.dumps(found)}, expected {wanted}")


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def build(args: argparse.Namespace, _settings: WaitSettings) -> HttpCheck:
    """The check for the URL and flags given."""
    if not args.url.startswith(("http://", "https://")):
        raise NotRetryable("expected an http:// or https:// URL")
    try:
        pattern = re.compile(args.body_regex) if args.body_regex else None
    except re.error as exc:
        raise NotRetryable(f"--body-regex: {exc}") from exc
    tls = None
    if args.url.startswith("https://") and tlsfiles.wanted(args):
        tls = tlsfiles.from_args(args)
    return HttpCheck(
        url=args.url, method=args.method.upper(), statuses=parse_statuses(args.status),
        headers=dict(_header(text) for text in args.headers), body_regex=pattern,
        json_checks=[_json_check(text) for text in args.json_checks], tls=tls,
        follow_redirects=not args.no_redirects, max_body=args.max_body,
        expect_headers=[_expected_header(text) for text in args.expect_headers],
    )


def _expected_header(text: str) -> tuple[str, re.Pattern[str] | None]:
    name, sep, pattern = text.partition("=")
    if not name.strip():
        raise NotRetryable(f"--expect-header {text!r}: expected NAME or NAME=REGEX")
    try:
        return name.strip(), re.compile(pattern) if sep else None
    except re.error as exc:
        raise NotRetryable(f"--expect-header {text!r}: {exc}") from exc


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise NotRetryable(f"--header {name.strip()!r}: expected 'Name: value'")
    return name.strip(), value.strip()


def _json_check(text: str) -> tuple[str, str]:
    path, sep, value = text.partition("=")
    if not sep or not path:
        raise NotRetryable(f"--json {text!r}: expected PATH=VALUE")
    return path.strip(), value
