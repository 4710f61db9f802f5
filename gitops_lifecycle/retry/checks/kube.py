"""`wait k8s KIND[/NAME] [-n NS] [-l SELECTOR | --all] --for …`: conditions, values, deletion.

Any kind the API server serves, custom resources included, resolved through discovery; one
object by name, or every object a label selector (or `--all`) picks, all of them or `--any`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.retry.checks import kinds, kubeapi, kubeconfig, rollout
from gitops_lifecycle.retry.checks.http import json_path
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse

    from gitops_lifecycle.retry.waitsettings import Kubernetes, WaitSettings

NAME = "k8s"
SERVICE = kubeapi.SERVICE
HELP = "a Kubernetes object meets a condition, has a value, or is gone"
_JSONPATH = re.compile(r"jsonpath=['\"]?\{(?P<path>[^}]*)\}['\"]?(?:=(?P<value>.*))?$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`KIND[/NAME] [-n NS] [-l SELECTOR | --all] [--any] --for … [--gone-ok]`."""
    parser.add_argument("reference", metavar="KIND[/NAME]",
                        help="e.g. job/migrate, deploy/web, certificate.cert-manager.io/tls, or "
                        "a kind alone (pods) with -l or --all; any kind the server serves")
    parser.add_argument("-l", "--selector", metavar="SELECTOR",
                        help="every object with these labels, e.g. app=db,tier!=cache")
    parser.add_argument("--all", action="store_true", dest="all_objects",
                        help="every object of the kind in the namespace")
    parser.add_argument("--any", action="store_true", dest="any_object",
                        help="with -l or --all: one object meeting --for is enough")
    parser.add_argument("--for", dest="wait_for", default="condition=Ready",
                        help="condition=TYPE[=STATUS] (STATUS default True), "
                        "jsonpath='{.status.phase}'=VALUE, delete, or rollout (a Deployment, "
                        "DaemonSet or StatefulSet fully rolled out, as kubectl rollout status "
                        "says) (default: condition=Ready)")
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
    """`condition=Available[=True]`, `jsonpath='{.a.b}'=value`, `delete` or `rollout`."""
    if text in ("delete", "rollout"):
        return Wanted(text)
    if text.startswith("condition="):
        name, _, status = text.removeprefix("condition=").partition("=")
        if not name:
            raise NotRetryable(f"--for {text!r}: name the condition")
        return Wanted("condition", name, status or "True")
    match = _JSONPATH.match(text)
    if match:
        return Wanted("jsonpath", match["path"], match["value"])
    raise NotRetryable(
        f"--for {text!r}: expected condition=…, jsonpath='{{…}}'=…, delete or rollout")


def _rendered(value: Any) -> str:
    """A value as kubectl's JSONPath prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclasses.dataclass
class KubeCheck:
    """Find the objects each attempt and judge each."""

    settings: Kubernetes
    kind: str
    name: str
    namespace: str | None
    wanted: Wanted
    gone_ok: bool
    selector: str | None = None
    any_object: bool = False
    _api: kubeconfig.Api | None = dataclasses.field(default=None, repr=False)
    _resolved: kinds.Kind | None = dataclasses.field(default=None, repr=False)

    @property
    def target(self) -> str:
        """`KIND/NAMESPACE/NAME`, or `KIND/NAMESPACE` and the selector."""
        namespace = self.namespace or (self._api.namespace if self._api else "")
        where = "/".join(part for part in (self.kind.lower(), namespace, self.name) if part)
        if self.selector is not None:
            return f"{where} -l {self.selector}" if self.selector else f"{where} --all"
        return where

    async def attempt(self, budget: float) -> None:
        """Read the object(s); raise NotReady until they are as wanted."""
        del budget
        self._api = self._api or kubeconfig.load(self.settings)
        client = kubeapi.connect(self.settings, self._api)
        self._resolved = self._resolved or await kinds.resolve(client, self.kind)
        resource = self._resolved
        namespace = (self.namespace or self._api.namespace) if resource.namespaced else None
        if self.selector is None:
            path = kubeapi.object_path(resource.group_version, resource.plural, self.name,
                                       namespace)
            self.judge(await client.get(path))
            return
        path = kubeapi.object_path(resource.group_version, resource.plural, "", namespace)
        query = {"labelSelector": self.selector} if self.selector else {}
        self.judge_all([obj async for obj in client.items(path, **query)])

    def judge_all(self, objects: list[kubeapi.Object]) -> None:
        """All (or with `--any` one) of the selected objects must be as wanted."""
        if not objects:
            if self.wanted.kind == "delete":
                return
            raise NotReady(f"no {self.kind} matches {self.target}")
        failures: list[str] = []
        for obj in objects:
            try:
                self._judge_one(obj)
            except NotReady as exc:
                failures.append(f"{obj.get('metadata', {}).get('name')}: {exc}")
                continue
            if self.any_object:
                return
        if failures:
            shown = "; ".join(failures[:3])
            more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
            raise NotReady(f"{len(failures)} of {len(objects)} not ready: {shown}{more}")

    def judge(self, obj: kubeapi.Object | None) -> None:
        """Raise NotReady (or NotRetryable) unless `obj` is as wanted."""
        if obj is None:
            if self.wanted.kind == "delete" or self.gone_ok:
                return
            raise NotReady(f"{self.target} not found")
        self._judge_one(obj)

    def _judge_one(self, obj: kubeapi.Object) -> None:
        if self.wanted.kind == "delete":
            raise NotReady("still exists")
        if self.wanted.kind == "rollout":
            rollout.check(obj)
            return
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


def build(args: argparse.Namespace, settings: WaitSettings) -> KubeCheck:
    """The check for the object(s) and `--for` given."""
    kind, sep, name = args.reference.partition("/")
    selecting = args.selector is not None or args.all_objects
    if not kind or (sep and not name) or "/" in name:
        raise NotRetryable(f"{args.reference!r} is not KIND/NAME")
    if selecting and name:
        raise NotRetryable("name one object (KIND/NAME) or select many (-l, --all), not both")
    if not selecting and not name:
        raise NotRetryable(f"{args.reference!r}: name the object (KIND/NAME), or use -l or --all")
    if args.any_object and not selecting:
        raise NotRetryable("--any goes with -l or --all")
    return KubeCheck(settings=settings.kubernetes, kind=kind, name=name,
                     namespace=args.namespace, wanted=parse_for(args.wait_for),
                     gone_ok=args.gone_ok,
                     selector=(args.selector or "") if selecting else None,
                     any_object=args.any_object)

