"""`wait k8s KIND/NAME -n NS --for …`: a condition, a JSONPath value, or deletion."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.retry.checks import kubeapi
from gitops_lifecycle.retry.checks.http import json_path
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.kube.resources import Resource
    from gitops_lifecycle.settings import KubernetesSettings, Settings

NAME = "k8s"
SERVICE = kubeapi.SERVICE
HELP = "a Kubernetes object meets a condition, has a value, or is gone"
_JSONPATH = re.compile(r"jsonpath=['\"]?\{(?P<path>[^}]*)\}['\"]?(?:=(?P<value>.*))?$")
_SHORT = {"deploy": "deployment", "sts": "statefulset", "rs": "replicaset", "svc": "service",
          "cm": "configmap", "pvc": "persistentvolumeclaim", "es": "externalsecret"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`KIND/NAME -n NS --for … [--gone-ok]`."""
    parser.add_argument("reference", metavar="KIND/NAME", help="e.g. job/migrate, deploy/web")
    parser.add_argument("-n", "--namespace", default="default")
    parser.add_argument("--for", dest="wait_for", default="condition=Ready",
                        help="condition=TYPE[=STATUS] (STATUS default True), "
                        "jsonpath='{.status.phase}'=VALUE, or delete")
    parser.add_argument("--gone-ok", action="store_true",
                        help="an object that no longer exists counts as done (a Job removed by "
                        "its TTL)")
    kubeapi.add_arguments(parser)


@dataclasses.dataclass(frozen=True)
class Wanted:
    """What `--for` asks: a condition, a value at a path, or absence."""

    kind: str
    name: str = ""
    value: str | None = None


def parse_for(text: str) -> Wanted:
    """`condition=Available[=True]`, `jsonpath='{.a.b}'=value`, or `delete`."""
    if text == "delete":
        return Wanted("delete")
    if text.startswith("condition="):
        name, _, status = text.removeprefix("condition=").partition("=")
        if not name:
            raise NotRetryable(f"--for {text!r}: name the condition")
        return Wanted("condition", name, status or "True")
    match = _JSONPATH.match(text)
    if match:
        return Wanted("jsonpath", match["path"], match["value"])
    raise NotRetryable(f"--for {text!r}: expected condition=…, jsonpath='{{…}}'=… or delete")


def resource_for(kind: str) -> Resource:
    """The API resource for a kind, its plural or a short name (`deploy`, `sts`, …)."""
    from gitops_lifecycle.kube import resources

    wanted = _SHORT.get(kind.lower(), kind.lower())
    for value in vars(resources).values():
        if isinstance(value, resources.Resource) and wanted in (
            value.kind.lower(), value.plural
        ) and value.version != "v1beta1":
            return value
    raise NotRetryable(f"unknown kind {kind!r}")


def _rendered(value: Any) -> str:
    """A value as kubectl's JSONPath prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclasses.dataclass
class KubeCheck:
    """GET the object each attempt and judge it."""

    settings: KubernetesSettings
    kind: str
    name: str
    namespace: str
    wanted: Wanted
    gone_ok: bool

    @property
    def target(self) -> str:
        """`KIND/NAMESPACE/NAME`."""
        return f"{self.kind.lower()}/{self.namespace}/{self.name}"

    async def attempt(self, budget: float) -> None:
        """Read the object; raise NotReady until it is as wanted."""
        del budget
        resource = resource_for(self.kind)
        async with kubeapi.connected(self.settings) as kube:
            obj = await kubeapi.get(kube, resource, self.name, self.namespace)
        self.judge(obj)

    def judge(self, obj: kubeapi.Object | None) -> None:
        """Raise NotReady (or NotRetryable) unless `obj` is as wanted."""
        if obj is None:
            if self.wanted.kind == "delete" or self.gone_ok:
                return
            raise NotReady(f"{self.target} not found")
        if self.wanted.kind == "delete":
            raise NotReady(f"{self.target} still exists")
        _check_generation(obj)
        if self.wanted.kind == "condition":
            _check_condition(obj, self.wanted)
        else:
            _check_value(obj, self.wanted)


def _check_generation(obj: kubeapi.Object) -> None:
    generation = obj.get("metadata", {}).get("generation")
    observed = obj.get("status", {}).get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        raise NotReady(f"status is for generation {observed}, the spec is at {generation}")


def _check_condition(obj: kubeapi.Object, wanted: Wanted) -> None:
    if obj.get("kind") == "Job" and wanted.name != "Failed":
        failed = kubeapi.condition(obj, "Failed")
        if failed is not None and failed.get("status") == "True":
            reason = f"{failed.get('reason', '')} {failed.get('message', '')}".strip()
            raise NotRetryable(f"Job failed: {reason}")
    found = kubeapi.condition(obj, wanted.name)
    if found is None:
        raise NotReady(f"no current {wanted.name} condition")
    if str(found.get("status")).lower() != str(wanted.value).lower():
        raise NotReady(f"{wanted.name} is {found.get('status')} ({found.get('reason', '')}), "
                       f"expected {wanted.value}")


def _check_value(obj: kubeapi.Object, wanted: Wanted) -> None:
    try:
        found = json_path(obj, wanted.name)
    except KeyError:
        raise NotReady(f"{{{wanted.name}}} is not set") from None
    if wanted.value is not None and _rendered(found) != wanted.value:
        raise NotReady(f"{{{wanted.name}}} is {_rendered(found)!r}, expected {wanted.value!r}")


def build(args: argparse.Namespace, settings: Settings) -> KubeCheck:
    """The check for the object and `--for` given."""
    kind, sep, name = args.reference.partition("/")
    if not sep or not kind or not name:
        raise NotRetryable(f"{args.reference!r} is not KIND/NAME")
    resource_for(kind)
    return KubeCheck(settings=settings.kubernetes, kind=kind, name=name,
                     namespace=args.namespace, wanted=parse_for(args.wait_for),
                     gone_ok=args.gone_ok)
