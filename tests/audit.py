"""What our commands asked the simulated API server for, gathered across the whole test run.

Every simulated cluster in the process tells `REQUEST_LISTENERS` of each request; requests
whose User-Agent names one of our commands (`gitops-lifecycle/<version> (run)` for the daemon,
`gitops-lifecycle-wait/<version>` for `wait`) are kept as (command, verb, API group, resource,
namespaced?), the attributes Kubernetes RBAC authorises. Requests by kubectl and by tests' own
clients are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from gitops_lifecycle.simulation.kubeapi.faults import REQUEST_LISTENERS

# The daemon's client says `gitops-lifecycle/<version> (run)`; `wait` has its own HTTP client,
# `gitops-lifecycle-wait/<version>`.
_AGENT = re.compile(r"^gitops-lifecycle(?:/\S+ \((?P<command>[a-z-]+)\)|-(?P<tool>wait)/\S+)$")
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


class Request(Protocol):
    method: str
    path: str
    query: dict[str, str]
    user_agent: str


@dataclass(frozen=True, order=True)
class Access:
    """One authorisable use of the API."""

    command: str
    verb: str
    group: str
    resource: str  # with its subresource: "pods/status"
    namespaced: bool  # the request named a namespace (a Role there can grant it)


def access(request: Request) -> Access | None:
    """The RBAC attributes of a request by one of our commands; None for anything else
    (another client, or a non-resource URL such as /version or discovery)."""
    agent = _AGENT.match(request.user_agent)
    if agent is None:
        return None
    parts = [p for p in request.path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespaced = False
    if rest[0] == "namespaces" and len(rest) >= 3 and not (
            len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES):
        namespaced, rest = True, rest[2:]
    resource = rest[0] if len(rest) < 3 else f"{rest[0]}/{rest[2]}"
    named = len(rest) >= 2
    verb = _verb(request.method.upper(), named=named,
                 watch=watch or request.query.get("watch", "").lower() in ("1", "true"))
    return Access(agent["command"] or agent["tool"], verb, group, resource, namespaced)


def _verb(method: str, *, named: bool, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else "get" if named else "list"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]


RECORDED: set[Access] = set()
"""Everything our commands used since `start()`."""


def _listen(request: Request) -> None:
    found = access(request)
    if found is not None:
        RECORDED.add(found)


def start() -> None:
    """Record from now on (called once, when the test run starts)."""
    if _listen not in REQUEST_LISTENERS:
        REQUEST_LISTENERS.append(_listen)
