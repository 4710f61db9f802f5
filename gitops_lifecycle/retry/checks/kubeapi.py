"""What the Kubernetes checks share: arguments, a few plain GETs, errors by retryability.

No Kubernetes client library: GETs with the credentials of `kubeconfig.load`, through the
kubeconfig's proxy-url or the environment's (HTTPS_PROXY, NO_PROXY) as client-go does, and
JSON back.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from gitops_lifecycle.retry.checks import http11, kubeconfig
from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator

    from gitops_lifecycle.retry.waitsettings import Kubernetes

SERVICE = "kubernetes"
Object = dict[str, Any]
NAMESPACE_HELP = ("namespace of the object (default: the kubeconfig context's namespace, in a "
                  "pod the service account's, else default)")
_PAGE = 100
_MAX_BODY = 32 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser, *, namespace: bool = True) -> None:
    """`-n NAMESPACE`, `--kubeconfig` and `--context` (default: in-cluster, then KUBECONFIG)."""
    from pathlib import Path

    if namespace:
        parser.add_argument("-n", "--namespace", metavar="NAMESPACE", help=NAMESPACE_HELP)
    parser.add_argument("--kubeconfig", type=Path, metavar="FILE",
                        help="kubeconfig file (default: in a pod its service account, else "
                        "KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: its current-context)")


def split_reference(text: str, namespace: str | None) -> tuple[str | None, str]:
    """`NAMESPACE/NAME`, or `NAME` with `-n NAMESPACE` (or the context's namespace)."""
    first, sep, name = text.partition("/")
    if not sep:
        if not first:
            raise NotRetryable("name the object: NAME -n NAMESPACE or NAMESPACE/NAME")
        return namespace, first
    if not first or not name or "/" in name:
        raise NotRetryable(f"{text!r} is not NAMESPACE/NAME")
    if namespace is not None and namespace != first:
        raise NotRetryable(f"{text!r} names namespace {first!r} but -n says {namespace!r}")
    return first, name


@dataclasses.dataclass
class Client:
    """GETs against the API server."""

    api: kubeconfig.Api

    async def get(self, path: str, **query: str) -> Object | None:
        """The JSON at `path`, or None on 404."""
        url = self.api.server + path + (f"?{urlencode(query)}" if query else "")
        request = http11.Request(
            method="GET", url=url, tls=self.api.tls, server_hostname=self.api.server_hostname,
            proxy=self.api.proxy, read_body=_MAX_BODY,
            headers=(("Accept", "application/json"), *self.api.headers.items()),
        )
        try:
            response = await http11.send(request)
        except ssl.SSLCertVerificationError as exc:
            raise NotRetryable(f"TLS verification of the API server failed: {describe(exc)}") \
                from exc
        if response.status == 404:
            return None
        if response.status >= 400:
            raise _status_error(response.status, _message(response.body), path)
        if not response.complete:
            raise NotReady(f"{path}: answer larger than {_MAX_BODY} bytes")
        try:
            found: Object = json.loads(response.body)
        except ValueError as exc:
            raise NotReady(f"{path}: the answer is not JSON") from exc
        return found

    async def items(self, path: str, **query: str) -> AsyncIterator[Object]:
        """Every object of a LIST, a page at a time."""
        token = ""
        while True:
            page = await self.get(path, limit=str(_PAGE), **query,
                                  **({"continue": token} if token else {}))
            if page is None:
                return
            for item in page.get("items") or []:
                yield item
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or "")
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")


def _status_error(status: int, message: str, path: str) -> NotReady | NotRetryable:
    """401 cannot pass later; 403 may (RBAC can lag behind the pod), as may 429 and 5xx."""
    text = f"{status} from the API server for {path}: {message}"
    if status == 401:
        return NotRetryable(text)
    return NotReady(text)


def connect(settings: Kubernetes, api: kubeconfig.Api | None = None) -> Client:
    """A client for the configured cluster (its failures arrive as NotReady/NotRetryable)."""
    return Client(api=api or kubeconfig.load(settings))


def api_path(group_version: str) -> str:
    """`/api/v1` for the core group, `/apis/GROUP/VERSION` for the others."""
    return f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"


def object_path(group_version: str, plural: str, name: str = "",
                namespace: str | None = None) -> str:
    """`/api/v1/namespaces/NS/pods/NAME`, `/apis/GROUP/VERSION/PLURAL`, …"""
    prefix = api_path(group_version)
    where = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
    tail = f"/{quote(name, safe='')}" if name else ""
    return f"{prefix}{where}/{plural}{tail}"


def condition(obj: Object, kind: str) -> Object | None:
    """The status condition of type `kind` that is current for the object's generation."""
    generation = obj.get("metadata", {}).get("generation")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") != kind:
            continue
        observed = cond.get("observedGeneration")
        if generation is not None and observed is not None and observed < generation:
            return None  # written for an older spec: says nothing about this one
        return dict(cond)
    return None
