"""Services labelled `authentik.io/proxy=enabled` get a ProxyConfig they own: one path to Authentik.

The ProxyConfig has the Service's name and namespace and an ownerReference to it, so the
garbage collector removes it with the Service (and its finalizer then cleans Authentik). Host
and options come from annotations; a ProxyConfig of the same name that the Service does not own
is never touched. Invalid values are not judged here: the ProxyConfig says what is wrong.
Deleting a ProxyConfig passes the blast-radius guard (unlabelling every Service at once stops
after the guard's limits). Under global dry-run nothing is created, changed or deleted: what
would be is logged and counted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.authentik.errors import UnavailableError
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.discovery.records import ProxyConfig, Ref
from gitops_lifecycle.discovery.term import Term, within
from gitops_lifecycle.kube import kept
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ConflictError, NotFoundError
from gitops_lifecycle.kube.events import EventRecorder
from gitops_lifecycle.kube.informer import EventType, Informer
from gitops_lifecycle.kube.queue import DONE, ReconcileQueue, Result, Retry
from gitops_lifecycle.kube.records import Object
from gitops_lifecycle.kube.resources import PROXYCONFIGS
from gitops_lifecycle.settings import Settings

log = logs.get("discovery.services")

POLICY = "serviceProxyConfigs"
"""The blast-radius guard's (and dry-run's) name for ProxyConfigs deleted with their Service."""

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

    def __init__(  # noqa: PLR0913 - what it reads, writes and answers to
        self, *, kube: Kube, services: Informer[Object], proxyconfigs: Informer[ProxyConfig],
        settings: Settings, clock: Clock, events: EventRecorder | None = None,
        guard: BlastRadiusGuard | None = None, term: Term = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.guard = guard or BlastRadiusGuard(settings.cleanup.blast_radius, clock)
        self.term = term
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
        wanted = None
        if service is not None and service.metadata.labels.get(LABEL) == "enabled":
            wanted = desired_proxyconfig(service)
            if wanted is None:
                self._event(service, "Warning", "MissingExternalHost",
                            f"label {SELECTOR} needs the annotation {PREFIX}external-host")
        if wanted is None:
            # Unlabelled or gone: remove the ProxyConfig only if this Service owned it.
            if existing is not None and _owner_gone_or_unlabelled(existing, service):
                return await self._delete(existing)
            return DONE
        assert service is not None
        return await self._apply(service, existing, wanted)

    async def _apply(self, service: Object, existing: ProxyConfig | None,
                     wanted: dict[str, Any]) -> Result:
        """Create the ProxyConfig `service` asks for, or bring its spec in line."""
        namespace, name = service.metadata.namespace, service.metadata.name
        if existing is None:
            await self._create(service, wanted)
            return DONE
        if not owned_by(existing, service.metadata.uid):
            self._event(service, "Warning", "NotOwned",
                        f"ProxyConfig {name} exists and is not owned by this Service; left alone")
            return DONE
        if existing.spec == wanted["spec"]:
            return DONE
        if self.dry_run:
            log.info("dry-run: would update the ProxyConfig of a labelled Service",
                     key=service.key)
            return DONE
        body = {"spec": _merge_patch(existing.spec, wanted["spec"]),
                "metadata": {"resourceVersion": existing.metadata.resource_version}}
        try:
            await self.kube.patch(PROXYCONFIGS, name, body, record=ProxyConfig,
                                  namespace=namespace)
        except (ConflictError, NotFoundError):
            self.queue.add(service.key)
        return DONE

    async def _create(self, service: Object, wanted: dict[str, Any]) -> None:
        if self.dry_run:
            log.info("dry-run: would create a ProxyConfig for a labelled Service",
                     key=service.key)
            return
        try:
            await self.kube.create(PROXYCONFIGS, wanted, record=ProxyConfig,
                                   namespace=service.metadata.namespace)
        except ConflictError:
            return  # created meanwhile: the informer brings it back here
        self._event(service, "Normal", "ProxyConfigCreated",
                    f"ProxyConfig {service.metadata.name} created")

    @property
    def dry_run(self) -> bool:
        return self.settings.cleanup.dry_run

    async def _delete(self, proxyconfig: ProxyConfig) -> Result:
        """Delete a ProxyConfig whose Service went or lost its label: guarded, in the term."""
        meta = proxyconfig.metadata
        if meta.deletion_timestamp is not None:
            return DONE
        if self.dry_run:
            metrics.DRY_RUN.labels(policy=POLICY).inc()
            log.info("dry-run: would delete the ProxyConfig of an unlabelled Service",
                     key=proxyconfig.key)
            return DONE
        total = sum(1 for pc in self.proxyconfigs.values()
                    if any(ref.kind == "Service" for ref in pc.metadata.owner_references))
        if not self.guard.admit(POLICY, total=total, kind=PROXYCONFIGS.plural):
            log.warning("ProxyConfig of an unlabelled Service not deleted: the blast-radius "
                        "guard stopped these deletions", key=proxyconfig.key)
            released = self.guard.released_at(POLICY) - self.clock.monotonic()
            return Retry(at_least=max(1.0, released))
        try:
            await within(self.term, lambda: self.kube.delete(
                PROXYCONFIGS, meta.name, namespace=meta.namespace, uid=meta.uid,
                propagation_policy="Background"))
        except (ConflictError, NotFoundError):
            self.guard.cancel(POLICY)
            return DONE
        except UnavailableError:  # out of the leader's term
            self.guard.cancel(POLICY)
            return Retry(at_least=1.0)
        except BaseException:
            self.guard.cancel(POLICY)
            raise
        log.info("ProxyConfig of an unlabelled Service deleted", key=proxyconfig.key)
        return DONE

    def _event(self, service: Object, type_: str, reason: str, message: str) -> None:
        if self.dry_run:  # dry-run writes nothing, Events included
            log.info("dry-run: service", key=service.key, reason=reason, message=message)
            return
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
