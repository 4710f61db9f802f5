"""The `orphanedProviders` policy: providers we made whose ProxyConfig is gone, after `maxAge`.

The original deleted every provider no ProxyConfig named, and all of them when listing
ProxyConfigs failed. Here a candidate is only a provider whose application carries this
cluster's marker, whose ProxyConfig (named in the marker) is not in a synced cache, and whose
name no ProxyConfig asks for. The time each was first seen orphaned is kept in a ConfigMap,
so a restart does not reset the clock. A sweep deletes nothing unless the ProxyConfig cache is
synced, Authentik's listing completed (every page), and the ConfigMap was read; candidates
past `maxAge` are checked again live (a fresh LIST of ProxyConfigs, a fresh GET of the
application and provider) and at most `maxPerSweep` are deleted, within the blast-radius guard.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import AuthentikError
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock, parse_time
from gitops_lifecycle.discovery.observation import Observation, observed
from gitops_lifecycle.discovery.ownership import read_marker
from gitops_lifecycle.discovery.records import ConfigMap, ProxyConfig
from gitops_lifecycle.discovery.term import Term, within
from gitops_lifecycle.discovery.view import View
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ConflictError, KubeError, NotFoundError
from gitops_lifecycle.kube.informer import Informer
from gitops_lifecycle.kube.resources import CONFIGMAPS, PROXYCONFIGS
from gitops_lifecycle.settings import NamespaceScope, Settings

log = logs.get("discovery.orphans")

POLICY = "orphanedProviders"
PROVIDERS = "authentik-providers"
"""The kind the blast-radius guard counts orphan and finalizer deletions under (once)."""
STATE_CONFIGMAP = "gitops-lifecycle-orphaned-providers"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An application with our marker, its provider, and the ProxyConfig it was made for."""

    application_pk: str
    slug: str
    provider_pk: int | None
    provider_name: str
    source: str
    publisher: str


def candidates(  # noqa: PLR0913 - the listing, who we are, and what is referenced
    view: View, *, cluster: str, keys: set[str], names: set[str], pks: set[int],
    scope: NamespaceScope | None = None,
) -> list[Candidate]:
    """Orphans in `view`: ours (marker of `cluster`, for a ProxyConfig in a namespace of
    `scope`, the namespaces watched), and referenced by no ProxyConfig."""
    scope = scope or NamespaceScope()
    found = []
    for application in view.applications.values():
        mark = read_marker(application.meta_publisher)
        if mark is None or mark.cluster != cluster or mark.key in keys:
            continue
        if not scope.allows(mark.key.partition("/")[0]):
            continue  # made for a namespace we do not watch: we cannot see it is gone
        provider = view.providers.get(application.provider) if application.provider else None
        if provider is not None and (provider.name.casefold() in names or provider.pk in pks):
            continue
        found.append(Candidate(
            application_pk=application.pk, slug=application.slug,
            provider_pk=provider.pk if provider else None,
            provider_name=provider.name if provider else "", source=mark.key,
            publisher=application.meta_publisher or "",
        ))
    return found


def owned_total(view: View, cluster: str) -> int:
    """How many applications carry this cluster's marker (the guard's denominator)."""
    return sum(1 for a in view.applications.values()
               if (mark := read_marker(a.meta_publisher)) and mark.cluster == cluster)


class StateStore:
    """First-seen times in a ConfigMap: application pk → {firstSeen, provider, proxyConfig}."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self._version: str | None = None

    async def load(self) -> dict[str, dict[str, Any]]:
        try:
            found = await self.kube.get(CONFIGMAPS, STATE_CONFIGMAP, record=ConfigMap,
                                        namespace=self.namespace)
        except NotFoundError:
            self._version = None
            return {}
        self._version = found.metadata.resource_version
        state = {}
        for key, value in found.data.items():
            try:
                entry = json.loads(value)
            except ValueError:
                continue
            if isinstance(entry, dict) and parse_time(entry.get("firstSeen")) is not None:
                state[key] = entry
        return state

    async def save(self, state: dict[str, dict[str, Any]]) -> None:
        """Write the state (409 when someone else wrote it since `load`)."""
        data = {key: json.dumps(entry, sort_keys=True) for key, entry in sorted(state.items())}
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": STATE_CONFIGMAP, "namespace": self.namespace,
                         "labels": {"app.kubernetes.io/managed-by": "gitops-lifecycle"}},
            "data": data,
        }
        if self._version is None:
            saved = await self.kube.create(CONFIGMAPS, body, record=ConfigMap,
                                           namespace=self.namespace)
        else:
            body["metadata"]["resourceVersion"] = self._version
            saved = await self.kube.replace(CONFIGMAPS, STATE_CONFIGMAP, body, record=ConfigMap,
                                            namespace=self.namespace)
        self._version = saved.metadata.resource_version


class OrphanCollector:
    """One sweep per complete Authentik listing (the ProxyConfig controller calls `sweep`)."""

    def __init__(  # noqa: PLR0913 - what it reads, writes and answers to
        self, *, kube: Kube, client: Authentik, proxyconfigs: Informer[ProxyConfig],
        settings: Settings, clock: Clock, guard: BlastRadiusGuard,
        referenced: Callable[[], tuple[set[str], set[str], set[int]]], term: Term = None,
    ) -> None:
        self.kube = kube
        self.client = client
        self.proxyconfigs = proxyconfigs
        self.settings = settings
        self.clock = clock
        self.guard = guard
        self.referenced = referenced
        self.term = term
        self.store = StateStore(kube, settings.kubernetes.leader_election.lease_namespace)
        self.observation = Observation(
            clock, gap=2 * settings.service_discovery.resync_interval)
        self._memory: dict[str, dict[str, Any]] = {}
        """The state under dry-run, which writes nothing to the cluster."""
        self.last: str = "not run"
        """What the last sweep did, in a word (tests and logs)."""

    @property
    def _policy(self) -> Any:
        return self.settings.cleanup.controller.policies.orphaned_providers

    @property
    def dry_run(self) -> bool:
        return self.settings.cleanup.dry_run or self._policy.dry_run

    async def sweep(self, view: View) -> int:
        """Record new orphans, delete those past `maxAge`; how many were deleted."""
        if (blocked := self._blocked(view)) is not None:
            return self._done(blocked)
        cluster = self.settings.authentik.cluster_name
        keys, names, pks = self.referenced()
        found = candidates(view, cluster=cluster, keys=keys, names=names, pks=pks,
                           scope=self.settings.kubernetes.namespaces)
        try:
            state = dict(self._memory) if self.dry_run else await self.store.load()
        except KubeError as exc:
            log.warning("cannot read the orphaned-provider state; nothing deleted", error=str(exc))
            return self._done("state_unreadable")
        now = self.clock.now()
        fresh = self.observation.update(state, found)
        if not await self._save(state, fresh):
            return self._done("state_unwritable")
        due = [c for c in found if observed(fresh[c.application_pk]) >= self._policy.max_age]
        metrics.CYCLE_DURATION.labels(policy=POLICY)
        if not due:
            return self._done("nothing_due")
        if not self.guard.judge(POLICY, deleting=len(due), total=owned_total(view, cluster)):
            return self._done("blast_radius_blocked")
        deleted = await self._collect(due[: self._policy.max_per_sweep], fresh,
                                      total=owned_total(view, cluster))
        await self._save(fresh, fresh, force=True)
        metrics.LAST_RUN.labels(policy=POLICY).set(now)
        return self._done("swept", deleted)

    def _blocked(self, view: View) -> str | None:
        """Why this sweep may not even look (None when it may)."""
        cleanup = self.settings.cleanup
        if not (cleanup.enabled and self._policy.enabled):
            return "disabled"
        if not self.proxyconfigs.has_synced.is_set():
            return "cache_not_synced"
        if not view.complete:
            return "authentik_listing_incomplete"
        return None

    def _done(self, what: str, deleted: int = 0) -> int:
        self.last = what
        if what not in {"swept", "nothing_due", "disabled"}:
            log.info("orphaned providers: nothing deleted", reason=what)
        return deleted

    async def _save(self, old: dict[str, Any], new: dict[str, Any], *,
                    force: bool = False) -> bool:
        if self.dry_run:
            self._memory = dict(new)
            return True
        if old == new and not force:
            return True
        try:
            await self.store.save(new)
        except (ConflictError, KubeError) as exc:
            log.warning("cannot write the orphaned-provider state; nothing deleted",
                        error=str(exc))
            return False
        return True

    async def _collect(self, due: list[Candidate], state: dict[str, Any], *,
                       total: int) -> int:
        live = await self._live_references()
        if live is None:
            return 0
        keys, names = live
        deleted = 0
        for candidate in due:
            if candidate.source in keys or candidate.provider_name.casefold() in names:
                continue
            try:
                if await self._delete(candidate, total=total):
                    deleted += 1
                    state.pop(candidate.application_pk, None)
            except AuthentikError as exc:
                metrics.CLEANUP_ERRORS.labels(policy=POLICY, reason="unreachable").inc()
                log.warning("orphaned provider not deleted", provider=candidate.provider_name,
                            error=str(exc))
                break
        return deleted

    async def _live_references(self) -> tuple[set[str], set[str]] | None:
        """Keys and provider names of every ProxyConfig in the namespaces watched, from a
        fresh paginated LIST where the informer lists (one per namespace while they are few,
        as a Role per namespace allows) — without its label and field selectors, so that a
        ProxyConfig the selectors hide still counts."""
        scope = self.settings.kubernetes.namespaces
        keys: set[str] = set()
        names: set[str] = set()
        try:
            for namespace in self.proxyconfigs.namespaces_watched:
                token: str | None = None
                while True:
                    page = await self.kube.list_page(PROXYCONFIGS, record=ProxyConfig,
                                                     namespace=namespace, limit=500,
                                                     continue_token=token)
                    for item in page.items:
                        if scope.allows(item.metadata.namespace):
                            keys.add(item.key)
                            names.add(item.provider_name.casefold())
                    token = page.metadata.continue_ or None
                    if token is None:
                        break
        except (KubeError, msgspec.ValidationError) as exc:
            log.warning("cannot list ProxyConfigs to confirm orphans; nothing deleted",
                        error=str(exc))
            return None
        return keys, names

    async def _delete(self, candidate: Candidate, *, total: int) -> bool:
        """Delete one orphan after a fresh look at its application and provider."""
        application = await self.client.application(candidate.slug)
        if application is None or application.pk != candidate.application_pk or \
                application.meta_publisher != candidate.publisher or \
                application.provider != candidate.provider_pk:
            return False
        provider = None
        if candidate.provider_pk is not None:
            provider = await self.client.provider(candidate.provider_pk)
            if provider is None or provider.name != candidate.provider_name:
                return False
        what = f"provider {candidate.provider_name!r}" if provider else \
            f"application {candidate.slug!r}"
        if self.dry_run:
            metrics.DRY_RUN.labels(policy=POLICY).inc()
            log.info("dry-run: would delete an orphaned provider", what=what,
                     proxyconfig=candidate.source)
            return False
        # Every deletion counts against the blast radius over its window, not only the sweep
        # it belongs to: small sweeps one after another are judged together.
        if not self.guard.admit(POLICY, total=total, kind=PROVIDERS):
            log.warning("orphaned provider not deleted: the blast-radius guard stopped the "
                        "policy", what=what, proxyconfig=candidate.source)
            return False
        try:
            if provider is not None:
                pk = provider.pk
                await within(self.term, lambda: self.client.delete_provider(pk))
        except BaseException:
            self.guard.cancel(POLICY)  # nothing was deleted
            raise
        await within(self.term, lambda: self.client.delete_application(candidate.slug))
        metrics.PROVIDERS_CLEANED.inc()
        log.info("orphaned provider deleted", what=what, proxyconfig=candidate.source)
        return True
