"""The ProxyConfig controller: informer → queue → `Ensurer`, status, Events, the finalizer.

Every `serviceDiscovery.resyncInterval` Authentik is listed again (it has no watch API) and
every ProxyConfig is looked at against that listing: drift made by hand is repaired, and an
unchanged ProxyConfig costs no request at all. Authentik unreachable → phase Degraded and
retried with backoff; nothing is deleted, and a finalizer waits until it can finish.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from gitops_lifecycle import logs, metrics
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import (
    AuthentikError,
    ForbiddenError,
    RejectedError,
    UnavailableError,
)
from gitops_lifecycle.authentik.models import Application, Outpost, Provider
from gitops_lifecycle.cleanup.guard import BlastRadiusGuard
from gitops_lifecycle.clock import Clock
from gitops_lifecycle.discovery import ownership
from gitops_lifecycle.discovery.desired import Defaults
from gitops_lifecycle.discovery.ensure import Context, Ensurer, Stop
from gitops_lifecycle.discovery.orphans import PROVIDERS, owned_total
from gitops_lifecycle.discovery.outposts import Membership
from gitops_lifecycle.discovery.plan import Step, plan
from gitops_lifecycle.discovery.records import FINALIZER, ProxyConfig, reference
from gitops_lifecycle.discovery.spec import Invalid, ProxySpec, parse
from gitops_lifecycle.discovery.status import PROVIDER, Report, differs, render
from gitops_lifecycle.discovery.term import Term, within
from gitops_lifecycle.discovery.version import VersionCheck
from gitops_lifecycle.discovery.view import View
from gitops_lifecycle.kube.client import Kube
from gitops_lifecycle.kube.errors import ConflictError, NotFoundError
from gitops_lifecycle.kube.events import EventRecorder
from gitops_lifecycle.kube.informer import EventType, Informer
from gitops_lifecycle.kube.queue import DONE, ReconcileQueue, Result, Retry
from gitops_lifecycle.kube.resources import PROXYCONFIGS
from gitops_lifecycle.settings import Settings

log = logs.get("discovery")

REFRESH_SPACING = 5.0
"""Seconds between two listings asked for by Degraded ProxyConfigs (not one per object)."""

DISCOVERY_POLICY = "serviceDiscovery"
"""Dry-run's name for the writes service discovery would make."""
FINALIZER_POLICY = "proxyConfigFinalizer"
"""The blast-radius guard's name for what finalizers delete in Authentik."""


class GuardStoppedError(Exception):
    """The blast-radius guard stopped finalizer deletions: the finalizer waits."""


class ProxyConfigController:
    """Reconciles ProxyConfigs into Authentik; run only while this replica leads."""

    name = "proxyconfigs"

    def __init__(  # noqa: PLR0913 - what it reads, writes and reports to
        self, *, kube: Kube, client: Authentik, informer: Informer[ProxyConfig],
        settings: Settings, clock: Clock, events: EventRecorder | None = None,
        term: Term = None, guard: BlastRadiusGuard | None = None,
    ) -> None:
        self.kube = kube
        self.term = term
        self.guard = guard or BlastRadiusGuard(settings.cleanup.blast_radius, clock)
        self.client = client
        self.informer = informer
        self.settings = settings
        self.clock = clock
        self.events = events
        self.view = View()
        self.membership = Membership(client)
        self.ensurer = Ensurer(client, self.view, self.membership)
        self.version = VersionCheck(client)
        self.queue: ReconcileQueue[str] = ReconcileQueue(
            name=self.name, reconcile=self.reconcile, clock=clock,
            workers=settings.service_discovery.workers,
        )
        self._names: dict[str, set[str]] = {}
        """Provider name (casefolded) → keys of the ProxyConfigs that ask for it."""
        self._phases: dict[str, str] = {}
        self._refresh_lock = asyncio.Lock()
        self._last_refresh_attempt = -1e18
        self._outpost_pks: dict[str, str] = {}
        self._primed = False
        self._planned: dict[str, list[Step]] = {}
        """Under dry-run: what was last reported for each ProxyConfig (reported on change)."""
        self.refreshed = asyncio.Event()
        """Set after each listing attempt (tests wait on it)."""
        self.after_listing: Callable[[View], Awaitable[None]] | None = None
        """Called after each periodic listing, complete or not (the orphan sweep)."""
        informer.subscribe(self._on_change)

    # --- wiring -----------------------------------------------------------------------------
    def _on_change(self, kind: EventType, old: ProxyConfig | None, new: ProxyConfig | None) -> None:
        obj = new or old
        assert obj is not None
        key = obj.key
        if old is not None:
            self._names.get(old.provider_name.casefold(), set()).discard(key)
        if new is not None:
            self._names.setdefault(new.provider_name.casefold(), set()).add(key)
        if kind == "DELETED":
            self._planned.pop(key, None)
            self._phases.pop(key, None)
            self._publish_phases()
            self.queue.forget(key)
        if self._primed and _worth_a_look(old, new):
            self.queue.add(key)
        # A ProxyConfig that gave up a name may unblock the one that lost it to it.
        if old is not None and (new is None or old.provider_name != new.provider_name):
            for other in self._names.get(old.provider_name.casefold(), ()):
                if self._primed:
                    self.queue.add(other)

    def exists(self, key: str) -> bool:
        return key in self.informer

    def referenced(self) -> tuple[set[str], set[str], set[int]]:
        """Keys, provider names (casefolded) and provider pks of every cached ProxyConfig."""
        keys, names, pks = set(), set(), set()
        for obj in self.informer.values():
            keys.add(obj.key)
            names.add(obj.provider_name.casefold())
            if (pk := obj.recorded_provider) is not None:
                pks.add(pk)
        return keys, names, pks

    async def run(self) -> None:
        """Wait for the cache, list Authentik, then reconcile changes and resync periodically."""
        await self.informer.has_synced.wait()
        self._primed = True
        async with asyncio.TaskGroup() as group:
            group.create_task(self.queue.run(), name=self.queue.name)
            group.create_task(self._resync_periodically(), name=f"{self.name}:resync")

    async def _resync_periodically(self) -> None:
        while True:
            await self.resync()
            await self.clock.sleep(self.settings.service_discovery.resync_interval)

    async def resync(self) -> None:
        """List Authentik again and look at every ProxyConfig against the new listing."""
        await self.refresh(force=True)
        for obj in list(self.informer.values()):
            self.queue.add(obj.key)
        if self.after_listing is not None:  # it judges for itself whether the listing is whole
            await self.after_listing(self.view)

    async def refresh(self, *, force: bool = False) -> bool:
        """List Authentik (once at a time, and not more often than every few seconds unless
        `force`); whether the view is complete afterwards."""
        async with self._refresh_lock:
            now = self.clock.now()
            if not force and (self.view.complete or
                              now - self._last_refresh_attempt < REFRESH_SPACING):
                return self.view.complete
            self._last_refresh_attempt = now
            try:
                await self.version.check()
                await self.view.refresh(self.client)
            except AuthentikError as exc:
                log.warning("cannot list Authentik", error=str(exc))
            else:
                log.info("listed Authentik", providers=len(self.view.providers),
                         applications=len(self.view.applications),
                         outposts=len(self.view.outposts))
            finally:
                self.refreshed.set()
                self.refreshed = asyncio.Event()
            return self.view.complete

    # --- one ProxyConfig --------------------------------------------------------------------
    @property
    def dry_run(self) -> bool:
        """Global dry-run: nothing is written anywhere; what would be is logged."""
        return self.settings.cleanup.dry_run

    async def reconcile(self, key: str) -> Result:
        obj = self.informer.get(key)
        if obj is None:
            return DONE
        if self.dry_run:
            return await self._report_plan(obj)
        if obj.metadata.deletion_timestamp is not None:
            return await self._finalize(obj)
        report = Report()
        parsed = parse(obj.spec, obj.metadata.namespace)
        try:
            await self._reconcile(obj, parsed, report)
        except Stop as stop:
            report.fail(stop.reason, stop.message, kind=stop.kind)
        except RejectedError as exc:
            report.fail("Rejected", f"Authentik rejected a request: {exc}")
        except ForbiddenError as exc:
            report.degrade("Forbidden", str(exc))
        except AuthentikError as exc:
            report.degrade("AuthentikUnavailable", f"Authentik: {exc}")
        await self._publish(obj, report)
        metrics.DISCOVERY_RECONCILES.labels(result=report.phase.lower()).inc()
        if report.phase == "Degraded":
            return Retry(at_least=1.0)
        return DONE

    async def _reconcile(self, obj: ProxyConfig, parsed: ProxySpec | Invalid,
                         report: Report) -> None:
        if isinstance(parsed, Invalid):
            report.fail("InvalidSpec", parsed.message or "the spec is invalid")
            return
        if not parsed.enabled:
            report.pending("Disabled", "spec.authentikConfig.enabled is false")
            return
        if rival := self._rival(obj):
            report.fail("Conflict", f"provider name {parsed.provider_name!r} is already claimed "
                        f"by ProxyConfig {rival}", kind=PROVIDER)
            return
        if not await self._ensure_finalizer(obj):
            return
        if not self.view.complete and not await self.refresh():
            report.degrade("AuthentikUnavailable",
                           f"Authentik cannot be listed: {self.view.error or 'not yet listed'}")
            return
        if problem := self.version.problem:
            report.fail("UnsupportedVersion", problem)
            return
        ctx = Context(
            key=obj.key, cluster=self.settings.authentik.cluster_name, spec=parsed,
            defaults=await self._defaults(parsed), outpost=await self._outpost(parsed),
            created=frozenset(pk for pk in (obj.recorded_provider,) if pk is not None),
            recorded_outpost=obj.status.get("outpost") if isinstance(
                obj.status.get("outpost"), dict) else None,
            exists=self.exists,
        )
        try:
            await self.ensurer.ensure(ctx, report)
        finally:
            for type_, reason, message in ctx.events:
                self._event(obj, type_, reason, message)

    def _rival(self, obj: ProxyConfig) -> str | None:
        """The ProxyConfig that has a better claim on the same provider name, if any.

        The one whose marker the provider carries keeps it; between claimants of a provider
        nobody holds, the earliest created wins. Judging by creation time alone would fail
        both when an earlier ProxyConfig asks for a name a later one already holds.
        """
        claimants = self._names.get(obj.provider_name.casefold(), set())
        holder = self._holder(obj.provider_name)
        if holder == obj.key:
            return None
        if holder is not None and holder in claimants and holder in self.informer:
            return holder
        mine = (obj.metadata.creation_timestamp, obj.key)
        for key in claimants:
            other = self.informer.get(key)
            if other is None or key == obj.key:
                continue
            theirs = (other.metadata.creation_timestamp, other.key)
            if _earlier(theirs, mine):
                return key
        return None

    def _holder(self, name: str) -> str | None:
        """The ProxyConfig of this cluster whose marker the provider `name` carries (as listed)."""
        provider = self.view.provider_named(name)
        application = self.view.application_of(provider) if provider is not None else None
        mark = ownership.read_marker(application.meta_publisher) if application else None
        if mark is None or mark.cluster != self.settings.authentik.cluster_name:
            return None
        return mark.key

    async def _defaults(self, spec: ProxySpec) -> Defaults:
        settings = self.settings.authentik
        pks = []
        for slug in (spec.authorization_flow or settings.authorization_flow,
                     spec.invalidation_flow or settings.invalidation_flow):
            pk = await self.client.flow_pk(slug)
            if pk is None:
                raise Stop("FlowNotFound", f"Authentik has no flow {slug!r}", PROVIDER)
            pks.append(pk)
        return Defaults(pks[0], pks[1], settings.cookie_domain)

    async def _outpost(self, spec: ProxySpec) -> Outpost:
        name = spec.outpost or self.settings.authentik.outpost
        for outpost in self.view.outposts.values():
            if (name and outpost.name.casefold() == name.casefold()) or (
                not name and outpost.managed == "goauthentik.io/outposts/embedded"
            ):
                return outpost
        found = await self.client.find_outpost(name)
        if found is None:
            what = f"outpost {name!r}" if name else "the embedded outpost"
            raise Stop("OutpostNotFound", f"Authentik has no {what}", "OutpostAssigned")
        self.view.remember_outpost(found)
        return found

    # --- dry-run ----------------------------------------------------------------------------
    async def _report_plan(self, obj: ProxyConfig) -> Result:
        """Dry-run: log what reconciling `obj` would write (when that changed); write nothing."""
        try:
            steps = await self._plan(obj)
        except AuthentikError as exc:
            log.info("dry-run: Authentik cannot be read", key=obj.key, error=str(exc))
            return Retry(at_least=1.0)
        if steps is None:
            return Retry(at_least=1.0)
        if self._planned.get(obj.key) != steps:
            self._planned[obj.key] = steps
            for step in steps:
                metrics.DRY_RUN.labels(policy=DISCOVERY_POLICY).inc()
                log.info("dry-run: would", action=step.what, key=obj.key, **step.fields())
        return DONE

    async def _plan(self, obj: ProxyConfig) -> list[Step] | None:
        """The writes reconciling `obj` would make (None: Authentik not listed yet)."""
        if obj.metadata.deletion_timestamp is not None:
            return await self._plan_release(obj)
        parsed = parse(obj.spec, obj.metadata.namespace)
        if (halt := self._halt(obj, parsed)) is not None:
            return halt
        assert isinstance(parsed, ProxySpec)
        if not self.view.complete and not await self.refresh():
            return None
        if problem := self.version.problem:
            return [Step("fail", (("reason", "UnsupportedVersion"), ("message", problem)))]
        try:
            defaults, outpost = await self._defaults(parsed), await self._outpost(parsed)
        except Stop as stop:
            return [Step("fail", (("reason", stop.reason), ("message", stop.message)))]
        steps = [] if FINALIZER in obj.metadata.finalizers else [Step("add the finalizer")]
        cluster = self.settings.authentik.cluster_name
        created = frozenset(pk for pk in (obj.recorded_provider,) if pk is not None)
        provider = self.ensurer.managed(key=obj.key, cluster=cluster,
                                        name=parsed.provider_name, created=created)
        return [*steps, *plan(
            self.view, key=obj.key, cluster=cluster, spec=parsed, defaults=defaults,
            outpost=outpost, provider=provider, created=created, exists=self.exists,
        )]

    def _halt(self, obj: ProxyConfig, parsed: ProxySpec | Invalid) -> list[Step] | None:
        """What stops a ProxyConfig before Authentik is looked at (None: nothing)."""
        if isinstance(parsed, Invalid):
            return [Step("fail", (("reason", "InvalidSpec"), ("message", parsed.message)))]
        if not parsed.enabled:
            return []
        if rival := self._rival(obj):
            return [Step("fail", (("reason", "Conflict"), ("rival", rival)))]
        return None

    async def _plan_release(self, obj: ProxyConfig) -> list[Step]:
        if FINALIZER not in obj.metadata.finalizers:
            return []
        if isinstance(obj.spec, dict) and obj.spec.get("deletionPolicy") == "Retain":
            return [Step("remove the ownership marker and keep the Authentik objects"),
                    Step("remove the finalizer")]
        provider, application = await self._owned(obj)
        steps = [Step("delete the provider", (("provider", provider.name),))] if provider else []
        if application:
            steps.append(Step("delete the application", (("application", application.slug),)))
        return [*steps, Step("remove the finalizer")]

    # --- deletion ---------------------------------------------------------------------------
    async def _finalize(self, obj: ProxyConfig) -> Result:
        if FINALIZER not in obj.metadata.finalizers:
            return DONE
        report = Report()
        try:
            await self._release(obj)
        except GuardStoppedError as exc:
            report.degrade("BlastRadiusGuard", str(exc))
            await self._publish(obj, report)
            released = self.guard.released_at(FINALIZER_POLICY) - self.clock.monotonic()
            return Retry(at_least=max(1.0, released))
        except AuthentikError as exc:
            report.degrade("FinalizerWaiting",
                           f"waiting for Authentik to remove the provider: {exc}")
            await self._publish(obj, report)
            return Retry(at_least=1.0)
        await self._remove_finalizer(obj)
        metrics.DISCOVERY_RECONCILES.labels(result="deleted").inc()
        return DONE

    async def _release(self, obj: ProxyConfig) -> None:
        """Delete (or, with Retain, unmark) what this ProxyConfig made; only what is ours."""
        spec = obj.spec if isinstance(obj.spec, dict) else {}
        if not self.view.complete and not await self.refresh():
            # The guard's share needs to know how many providers are ours.
            raise UnavailableError(self.view.error or "Authentik not yet listed")
        provider, application = await self._owned(obj)
        if spec.get("deletionPolicy") == "Retain":
            if application is not None:
                await self.client.patch_application(application.slug, {"meta_publisher": ""})
                self.view.forget_application(application.slug)
            self._event(obj, "Normal", "Retained",
                        "Authentik objects left in place without the ownership marker")
            return
        if provider is None and application is None:
            return
        total = owned_total(self.view, self.settings.authentik.cluster_name)
        if not self.guard.admit(FINALIZER_POLICY, total=total, kind=PROVIDERS):
            window = self.settings.cleanup.blast_radius.window
            raise GuardStoppedError(
                f"the blast-radius guard stopped deletions in Authentik (too many within "
                f"{window:g}s): the finalizer waits; set cleanup.blastRadius.confirmed to "
                "let it go on")
        await self._delete_owned(obj, provider, application)

    async def _delete_owned(self, obj: ProxyConfig, provider: Provider | None,
                            application: Application | None) -> None:
        """Delete the provider, then the application (admitted by the guard: uncounted again
        if nothing was deleted).

        Deleting the provider takes it off every outpost: the shared `providers` list is not
        rewritten for it (a rewrite could drop what someone added meanwhile, and Authentik
        refuses to empty an outpost other than the embedded one).
        """
        deleted = False
        try:
            if provider is not None:
                pk = provider.pk
                await within(self.term, lambda: self.client.delete_provider(pk))
                deleted = True
                self.view.forget_provider(provider.pk)
                self._event(obj, "Normal", "ProviderDeleted",
                            f"provider {provider.name!r} deleted")
            if application is not None:
                slug = application.slug
                await within(self.term, lambda: self.client.delete_application(slug))
                deleted = True
                self.view.forget_application(application.slug)
                self._event(obj, "Normal", "ApplicationDeleted",
                            f"application {application.slug!r} deleted")
        except BaseException:
            if not deleted:
                self.guard.cancel(FINALIZER_POLICY)
            raise

    async def _owned(self, obj: ProxyConfig) -> tuple[Provider | None, Application | None]:
        """This ProxyConfig's provider and application, read fresh; None for what is not ours."""
        cluster = self.settings.authentik.cluster_name
        pk = obj.recorded_provider
        provider = await self.client.provider(pk) if pk is not None else None
        if provider is None and obj.provider_name:
            provider = await self.client.provider_named(obj.provider_name)
        slug = (provider.assigned_application_slug if provider else None) or obj.status.get(
            "applicationSlug")
        application = None
        if isinstance(slug, str) and slug:
            application = await self.client.application(slug)
        # A recorded pk vouches only for a provider that still has the name asked for.
        created = set() if pk is None or provider is None or \
            provider.name.casefold() != obj.provider_name.casefold() else {pk}
        if provider is not None and self.ensurer.lost_create(provider, obj.key):
            created.add(provider.pk)
        if provider is not None:
            linked = application if application is not None and \
                application.provider == provider.pk else None
            verdict = ownership.judge_provider(provider, linked, cluster=cluster, key=obj.key,
                                               adopt=False, created=frozenset(created))
            if not isinstance(verdict, ownership.Ours):
                self._event(obj, "Normal", "LeftAlone",
                            f"provider {provider.name!r} is not this ProxyConfig's: left alone")
                provider = None
        if application is not None and not isinstance(ownership.judge_application(
                application, cluster=cluster, key=obj.key, adopt=False, provider=None),
                ownership.Ours):
            application = None
        return provider, application

    # --- Kubernetes writes ------------------------------------------------------------------
    async def _ensure_finalizer(self, obj: ProxyConfig) -> bool:
        """Add our finalizer; False when the object changed meanwhile (it comes back)."""
        if FINALIZER in obj.metadata.finalizers:
            return True
        body = {"metadata": {"finalizers": [*obj.metadata.finalizers, FINALIZER],
                             "resourceVersion": obj.metadata.resource_version}}
        try:
            await self.kube.patch(PROXYCONFIGS, obj.metadata.name, body, record=ProxyConfig,
                                  namespace=obj.metadata.namespace)
        except (ConflictError, NotFoundError):
            return False
        return True

    async def _remove_finalizer(self, obj: ProxyConfig) -> None:
        remaining = [f for f in obj.metadata.finalizers if f != FINALIZER]
        body = {"metadata": {"finalizers": remaining,
                             "resourceVersion": obj.metadata.resource_version}}
        try:
            await self.kube.patch(PROXYCONFIGS, obj.metadata.name, body, record=ProxyConfig,
                                  namespace=obj.metadata.namespace)
        except NotFoundError:
            return
        except ConflictError:
            self.queue.add(obj.key)

    async def _publish(self, obj: ProxyConfig, report: Report) -> None:
        status = render(report, obj.status, generation=obj.metadata.generation,
                        now=self.clock.now())
        old_phase = self._phases.get(obj.key, obj.status.get("phase"))
        self._phases[obj.key] = report.phase
        self._publish_phases()
        if old_phase != report.phase and report.phase in {"Failed", "Degraded"}:
            self._event(obj, "Warning", report.reason, report.message)
        elif old_phase != report.phase and report.phase == "Ready":
            self._event(obj, "Normal", "Ready", "provider, application and outpost in place")
        if not differs(obj.status, status):
            return
        try:
            await self.kube.patch(PROXYCONFIGS, obj.metadata.name, {"status": status},
                                  record=ProxyConfig, namespace=obj.metadata.namespace,
                                  subresource="status")
        except NotFoundError:
            return

    def _publish_phases(self) -> None:
        counts = Counter(self._phases.values())
        for phase in metrics.PROXYCONFIG_PHASES:
            metrics.PROXYCONFIGS.labels(phase=phase).set(counts.get(phase, 0))

    def _event(self, obj: ProxyConfig, type_: str, reason: str, message: str) -> None:
        log.info("proxyconfig", key=obj.key, reason=reason, message=message)
        if self.events is not None and not self.dry_run:
            self.events.record(reference(obj), type=type_, reason=reason, message=message)


def _earlier(a: tuple[Any, str], b: tuple[Any, str]) -> bool:
    (a_time, a_key), (b_time, b_key) = a, b
    if a_time is not None and b_time is not None and a_time != b_time:
        return bool(a_time < b_time)
    return a_key < b_key


def _worth_a_look(old: ProxyConfig | None, new: ProxyConfig | None) -> bool:
    """Spec, deletion and finalizer changes matter; our own status writes do not."""
    if old is None or new is None:
        return new is not None
    before, after = old.metadata, new.metadata
    return (before.generation != after.generation
            or before.deletion_timestamp != after.deletion_timestamp
            or before.finalizers != after.finalizers
            or old.spec != new.spec)
