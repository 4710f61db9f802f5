"""`SimulatedCluster`: the API server, its kubelet and a Python API for tests and the demo."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from gitops_lifecycle.clock import Clock, SimClock, format_time
from gitops_lifecycle.simulation.kubeapi import crdfiles, kubeconfig, scenario
from gitops_lifecycle.simulation.kubeapi.controllers import WorkLoop, standard
from gitops_lifecycle.simulation.kubeapi.faults import Faults, RequestRecord
from gitops_lifecycle.simulation.kubeapi.kubelet import Kubelet
from gitops_lifecycle.simulation.kubeapi.paging import ListRequest, list_objects
from gitops_lifecycle.simulation.kubeapi.registry import DeleteOptions, Registry
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType
from gitops_lifecycle.simulation.kubeapi.routes import ApiServer, present
from gitops_lifecycle.simulation.kubeapi.selectors import combine, field_matcher, label_matcher
from gitops_lifecycle.simulation.kubeapi.store import Store, clone

# The namespaces every cluster starts with (kube-apiserver's system namespaces controller).
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
_PATCH_TYPES = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                "strategic": "application/strategic-merge-patch+json"}


class SimulatedCluster:
    """A Kubernetes API server in the event loop, with direct access to its objects.

    With `controllers`, the cluster runs: a scheduler, the kubelet's running half and the
    workload controllers (`kubeapi/controllers/`) act at the speed of the clock.

    The Python methods apply the same rules as the HTTP API (they raise `ApiError` where the
    API would answer an error) and return copies, so a caller's edits never leak into the
    store. `create` restores an object as given (status included); the HTTP API does not.

    Custom kinds are served from CustomResourceDefinitions, created through the API like any
    object. `crds` (files or objects) are loaded at start; by default `crdfiles.BUNDLED`: the
    project's ProxyConfig CRD (the chart's file) and ExternalSecret, ServiceMonitor and
    PrometheusRule. `crds=()` gives a cluster that serves only built-in kinds.
    """

    def __init__(  # noqa: PLR0913 -- the cluster's options
        self,
        clock: Clock | None = None,
        *,
        history: int = 10_000,
        bookmark_interval: float = 60.0,
        strict_namespaces: bool = True,
        kubelet: bool = True,
        controllers: bool = False,
        crds: Iterable[crdfiles.Source] | None = None,
    ) -> None:
        self.clock = clock or SimClock()
        self.store = Store(history=history)
        self.registry = Registry(store=self.store, clock=self.clock,
                                 strict_namespaces=strict_namespaces)
        self.faults = Faults(store=self.store, clock=self.clock)
        self.api = ApiServer(registry=self.registry, faults=self.faults, clock=self.clock,
                             bookmark_interval=bookmark_interval)
        self.kubelet = Kubelet(registry=self.registry, clock=self.clock)
        self._run_kubelet = kubelet
        self.ensure_namespaces(*SYSTEM_NAMESPACES)
        self.load_crds(*(crdfiles.BUNDLED if crds is None else crds))
        self.controllers = [WorkLoop(c, store=self.store, clock=self.clock)
                            for c in standard(self.registry)] if controllers else []
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SimulatedCluster:
        """Listen on `host:port` (0 picks a free port); `url` says where."""
        self._runner = web.AppRunner(self.api.app(), handler_cancellation=True,
                                     access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        address = self._runner.addresses[0]
        self.url = f"http://{address[0]}:{address[1]}"
        if self._run_kubelet:
            self._tasks.append(asyncio.create_task(self.kubelet.run(), name="kubelet"))
        self._tasks.extend(asyncio.create_task(loop.run(), name=loop.controller.name)
                           for loop in self.controllers)
        return self

    async def stop(self) -> None:
        """End every watch, stop listening and stop the kubelet."""
        self.faults.drop_watches(graceful=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def write_kubeconfig(self, path: Path | str) -> Path:
        """Write a kubeconfig for this cluster (kubernetes-asyncio and kubectl accept it)."""
        return kubeconfig.write(path, self.url)

    # -- reading and writing objects ------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every HTTP request so far, in order."""
        return self.api.requests

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion."""
        return self.store.rv

    def create(self, obj: dict[str, Any], *, validate: bool = True) -> dict[str, Any]:
        """Store a new object as given (status and timestamps kept); 409 if it exists.

        Like restoring a backup, it creates the object's namespace if that does not exist
        (a client of the HTTP API gets 404 instead). Decoding, defaults and validation apply
        as for the API; `validate=False` stores what no real server would hand out, for
        tests of a client's robustness.
        """
        rt = self.registry.catalog.by_kind(obj["apiVersion"], obj["kind"])
        namespace = (obj.get("metadata") or {}).get("namespace")
        if rt.namespaced:
            self.ensure_namespaces(namespace or "default")
        created = self.registry.create(rt, clone(obj), namespace=namespace, restore=True,
                                       validate=validate)
        return present(rt, clone(created))

    def load_crds(self, *sources: crdfiles.Source) -> builtins.list[dict[str, Any]]:
        """Create CustomResourceDefinitions from files (or objects); their kinds are served
        at once (a CRD that exists already is left as it is)."""
        created = []
        for crd in crdfiles.documents(sources):
            name = (crd.get("metadata") or {}).get("name", "")
            if self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) is None:
                created.append(self.create(crd))
        return created

    def ensure_namespaces(self, *names: str) -> None:
        """Create the namespaces that do not exist yet (objects can only go in existing ones)."""
        rt = self.registry.catalog.by_kind("v1", "Namespace")
        for name in names:
            if self.store.get(rt.store_key, name) is None:
                self.registry.create(rt, {"metadata": {"name": name}})

    def seed(self, objects: Iterable[dict[str, Any]]) -> int:
        """Create many objects as given, fast (nothing is returned); how many.

        Like restoring a backup, seeding creates the namespaces the objects are in.
        """
        count = 0
        known: set[str] = set()
        for obj in objects:
            rt = self.registry.catalog.by_kind(obj["apiVersion"], obj["kind"])
            namespace = (obj.get("metadata") or {}).get("namespace")
            if rt.namespaced and namespace and namespace not in known:
                self.ensure_namespaces(namespace)
                known.add(namespace)
            self.registry.create(rt, clone(obj), namespace=namespace, restore=True)
            count += 1
        return count

    def get(self, api_version: str, kind: str, name: str,
            namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None."""
        rt = self.registry.catalog.by_kind(api_version, kind)
        found = self.store.get(rt.store_key, _key(rt, namespace, name))
        return None if found is None else present(rt, clone(found))

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, *,
        label_selector: str | None = None, field_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """The objects of a kind (in one namespace), in the API's order."""
        rt = self.registry.catalog.by_kind(api_version, kind)
        match = combine(label_matcher(label_selector),
                        field_matcher(field_selector, rt.field_labels))
        page = list_objects(self.store, rt, ListRequest(namespace=namespace, match=match))
        return [present(rt, clone(item)) for item in page.objects()]

    def update(
        self, obj: dict[str, Any], *, subresource: str | None = None,
    ) -> dict[str, Any]:
        """PUT semantics: 409 if `metadata.resourceVersion` is set and stale."""
        rt = self.registry.catalog.by_kind(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        updated = self.registry.replace(rt, clone(obj), namespace=meta.get("namespace"),
                                        name=meta["name"], subresource=subresource)
        return present(rt, clone(updated))

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT to the status subresource: only `status` changes."""
        return self.update(obj, subresource="status")

    def patch(  # noqa: PLR0913 -- the keywords of a PATCH request
        self, api_version: str, kind: str, name: str, patch: Any, *,
        namespace: str | None = None, patch_type: str = "merge",
        subresource: str | None = None, validate: bool = True,
    ) -> dict[str, Any]:
        """PATCH with `merge`, `json` or `strategic` patch semantics (`validate` as `create`)."""
        rt = self.registry.catalog.by_kind(api_version, kind)
        patched = self.registry.patch(rt, clone(patch), namespace=namespace, name=name,
                                      content_type=_PATCH_TYPES[patch_type],
                                      subresource=subresource, validate=validate)
        return present(rt, clone(patched))

    def delete(  # noqa: PLR0913 -- the fields of DeleteOptions
        self, api_version: str, kind: str, name: str, *, namespace: str | None = None,
        grace_period_seconds: int | None = None, propagation_policy: str | None = None,
        uid: str | None = None, resource_version: str | None = None,
    ) -> dict[str, Any]:
        """DELETE: the object as left (with a deletionTimestamp) or as it was when removed."""
        rt = self.registry.catalog.by_kind(api_version, kind)
        options = DeleteOptions(grace_period_seconds=grace_period_seconds,
                                propagation_policy=propagation_policy, uid=uid,
                                resource_version=resource_version)
        deleted = self.registry.delete(rt, namespace=namespace, name=name, options=options)
        return present(rt, clone(deleted))

    # -- conveniences for scenarios -------------------------------------------------------

    def load_scenario(self, source: str | Path) -> builtins.list[dict[str, Any]]:
        """Seed objects from a scenario file or text (format: `simulation.scenario`)."""
        now = self.clock.now()
        created = []
        for raw in scenario.documents(source):
            obj = scenario.prepare(raw, now)
            self._resolve_owners(obj)
            self._resolve_involved(obj)
            created.append(self.create(obj))
        return created

    def _resolve_owners(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            if ref.get("uid"):
                continue
            owner = self.get(ref["apiVersion"], ref["kind"], ref["name"], meta.get("namespace"))
            if owner is None:
                raise scenario.ScenarioError(
                    f"owner {ref['kind']}/{ref['name']} of {meta.get('name')} is not seeded")
            ref["uid"] = owner["metadata"]["uid"]
            ref.setdefault("controller", True)
            ref.setdefault("blockOwnerDeletion", True)

    def _resolve_involved(self, obj: dict[str, Any]) -> None:
        """An Event names its object by uid too: `kubectl describe` finds Events by it."""
        involved = obj.get("involvedObject") or obj.get("regarding")
        if not involved or involved.get("uid") or not involved.get("apiVersion"):
            return
        found = self.get(involved["apiVersion"], involved["kind"], involved["name"],
                         involved.get("namespace"))
        if found is not None:
            involved["uid"] = found["metadata"]["uid"]

    def set_node_ready(self, name: str, ready: bool = True) -> dict[str, Any]:
        """Create or update a node with its Ready condition True or False (Unknown)."""
        when = format_time(self.clock.now())
        condition = {"type": "Ready", "status": "True" if ready else "Unknown",
                     "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                     "lastHeartbeatTime": when, "lastTransitionTime": when}
        node = self.get("v1", "Node", name)
        if node is None:
            labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64"}
            return self.create({"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": name, "labels": labels},
                                "spec": {}, "status": {"conditions": [condition]}})
        node["status"] = {**node.get("status", {}), "conditions": [condition]}
        node["metadata"].pop("resourceVersion", None)
        return self.update_status(node)

    def step_controllers(self) -> None:
        """Let every controller act on what is due now (without waiting for the loop)."""
        for loop in self.controllers:
            loop.step()

    def step_kubelet(self) -> None:
        """Finish the pods whose grace period has passed now (without waiting for the loop)."""
        self.kubelet.refresh()
        self.kubelet.step()


def _key(rt: ResourceType, namespace: str | None, name: str) -> str:
    return f"{namespace or 'default'}/{name}" if rt.namespaced else name
