"""Services labelled `authentik.io/proxy=enabled` get a ProxyConfig they own: one path to Authentik.

The ProxyConfig has the Service's name and namespace and an ownerReference to it, so the
garbage collector removes it with the Service (and its finalizer then cleans Authentik). Host
and options come from annotations; a ProxyConfig of the same name that the Service does not own
is never touched. Invalid values are not judged here: the ProxyConfig says what is wrong.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gitops_lifecycle import logs
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.discovery.records import ProxyConfig, Ref
from gitops_lifecycle.kube import kept
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ConflictError, NotFoundError
from gitops_lifecycle.kube.events import EventRecorder
from gitops_lifecycle.kube.informer import EventType, Informer
from gitops_lifecycle.kube.queue import DONE, ReconcileQueue, Result
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import PROXYCONFIGS

log = logs.get("discovery.services")

# Declared to the informers' caches (`kube.kept`), which keep no other labels or annotations.
LABEL = kept.label("authentik.io/proxy")
SELECTOR = f"{LABEL}=enabled"
PREFIX = kept.annotation_prefix("authentik.io/")
_SPEC_ANNOTATIONS = {
    "external-host": "externalHost", "internal-host": "internalHost", "port": "port",
    "protocol": "protocol",
}
_CONFIG_ANNOTATIONS = {
    "provider-name": "providerName", "mode": "mode", "skip-path-regex": "skipPathRegex",
    "application-slug": "applicationSlug", "application-name": "applicationName",
    "application-group": "applicationGroup", "launch-url": "launchUrl", "outpost": "outpost",
    "cookie-domain": "cookieDomain", "authorization-flow": "authorizationFlow",
    "invalidation-flow": "invalidationFlow",
}
_FLAG_VALUES = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_FLAGS = {"basic-auth-enabled": "basicAuthEnabled",
          "internal-host-ssl-validation": "internalHostSslValidation"}


def desired_proxyconfig(service: Object) -> dict[str, Any] | None:
    """The ProxyConfig a labelled Service asks for (None without `authentik.io/external-host`)."""
    meta = service.metadata
    notes = meta.annotations
    if not notes.get(f"{PREFIX}external-host"):
        return None
    spec: dict[str, Any] = {"serviceName": meta.name, "serviceNamespace": meta.namespace}
    config: dict[str, Any] = {"providerName": f"{meta.namespace}-{meta.name}"}
    for annotation, key in _SPEC_ANNOTATIONS.items():
        if (value := notes.get(PREFIX + annotation)) is not None:
            spec[key] = int(value) if key == "port" and value.isdigit() else value
    for annotation, key in _CONFIG_ANNOTATIONS.items():
        if (value := notes.get(PREFIX + annotation)) is not None:
            config[key] = value
    for annotation, key in _FLAGS.items():
        if (value := notes.get(PREFIX + annotation)) is not None:
            config[key] = _FLAG_VALUES.get(value.strip().lower(), value)
    spec["authentikConfig"] = config
    return {
        "apiVersion": PROXYCONFIGS.api_version, "kind": PROXYCONFIGS.kind,
        "metadata": {
            "name": meta.name, "namespace": meta.namespace,
            "labels": {"app.kubernetes.io/managed-by": "gitops-lifecycle"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": meta.name,
                                 "uid": meta.uid, "controller": True}],
        },
        "spec": spec,
    }


def owned_by(proxyconfig: ProxyConfig, service_uid: str) -> bool:
    return any(ref.kind == "Service" and ref.uid == service_uid
               for ref in proxyconfig.metadata.owner_references)


class ServiceController:
    """Creates, updates and (when the label goes) deletes Service-owned ProxyConfigs."""

    name = "proxy-services"

    def __init__(
        self, *, kube: Kube, services: Informer[Object], proxyconfigs: Informer[ProxyConfig],
        clock: Clock, events: EventRecorder | None = None,
    ) -> None:
        self.kube = kube
        self.services = services
        self.proxyconfigs = proxyconfigs
        self.events = events
        self.queue: ReconcileQueue[str] = ReconcileQueue(name=self.name,
                                                         reconcile=self.reconcile, clock=clock)
        services.subscribe(self._on_service)
        proxyconfigs.subscribe(self._on_proxyconfig)

    def _on_service(self, _kind: EventType, old: Object | None, new: Object | None) -> None:
        obj = new or old
        assert obj is not None
        self.queue.add(obj.key)

    def _on_proxyconfig(self, _kind: EventType, old: ProxyConfig | None,
                        new: ProxyConfig | None) -> None:
        obj = new or old
        assert obj is not None
        if any(ref.kind == "Service" for ref in obj.metadata.owner_references):
            self.queue.add(obj.key)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.services.run(), name=self.services.name)
            await self.services.has_synced.wait()
            await self.proxyconfigs.has_synced.wait()
            group.create_task(self.queue.run(), name=self.queue.name)

    async def reconcile(self, key: str) -> Result:
        service = self.services.get(key)
        existing = self.proxyconfigs.get(key)
        namespace, _, name = key.rpartition("/")
        wanted = None
        if service is not None and service.metadata.labels.get(LABEL) == "enabled":
            wanted = desired_proxyconfig(service)
            if wanted is None:
                self._event(service, "Warning", "MissingExternalHost",
                            f"label {SELECTOR} needs the annotation {PREFIX}external-host")
        if wanted is None:
            # Unlabelled or gone: remove the ProxyConfig only if this Service owned it.
            if existing is not None and _owner_gone_or_unlabelled(existing, service):
                await self._delete(existing)
            return DONE
        assert service is not None
        if existing is None:
            try:
                await self.kube.create(PROXYCONFIGS, wanted, record=ProxyConfig,
                                       namespace=namespace)
            except ConflictError:
                return DONE  # created meanwhile: the informer brings it back here
            self._event(service, "Normal", "ProxyConfigCreated", f"ProxyConfig {name} created")
            return DONE
        if not owned_by(existing, service.metadata.uid):
            self._event(service, "Warning", "NotOwned",
                        f"ProxyConfig {name} exists and is not owned by this Service; left alone")
            return DONE
        if existing.spec != wanted["spec"]:
            body = {"spec": _merge_patch(existing.spec, wanted["spec"]),
                    "metadata": {"resourceVersion": existing.metadata.resource_version}}
            try:
                await self.kube.patch(PROXYCONFIGS, name, body, record=ProxyConfig,
                                      namespace=namespace)
            except (ConflictError, NotFoundError):
                self.queue.add(key)
        return DONE

    async def _delete(self, proxyconfig: ProxyConfig) -> None:
        meta = proxyconfig.metadata
        if meta.deletion_timestamp is not None:
            return
        try:
            await self.kube.delete(PROXYCONFIGS, meta.name, namespace=meta.namespace,
                                   uid=meta.uid, propagation_policy="Background")
        except (ConflictError, NotFoundError):
            return
        log.info("ProxyConfig of an unlabelled Service deleted", key=proxyconfig.key)

    def _event(self, service: Object, type_: str, reason: str, message: str) -> None:
        if self.events is None:
            return
        meta = service.metadata
        self.events.record(Ref("v1", "Service", meta.namespace, meta.name, meta.uid),
                           type=type_, reason=reason, message=message)


def _owner_gone_or_unlabelled(proxyconfig: ProxyConfig, service: Object | None) -> bool:
    """Whether a Service-owned ProxyConfig lost its Service (or the Service its label)."""
    if service is not None:
        return owned_by(proxyconfig, service.metadata.uid)
    return any(ref.kind == "Service" and ref.name == proxyconfig.metadata.name
               for ref in proxyconfig.metadata.owner_references)


def _merge_patch(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning `old` into `new` (removed keys become null)."""
    patch: dict[str, Any] = dict(new)
    if isinstance(old, dict):
        for key, value in old.items():
            if key not in new:
                patch[key] = None
            elif isinstance(value, dict) and isinstance(new[key], dict):
                patch[key] = _merge_patch(value, new[key])
    return patch
