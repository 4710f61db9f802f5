"""One ProxyConfig's Authentik objects: provider, application, outpost membership.

Decides from the `View` (the last listing) and writes only what differs; anything that exists
is read fresh, and its ownership judged again on that fresh copy, before it is changed.
Problems that need a person raise `Stop` (phase Failed); Authentik being unreachable raises
`UnavailableError` (phase Degraded, tried again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitops_lifecycle import logs
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import RejectedError, UnavailableError
from gitops_lifecycle.authentik.models import Application, Outpost, Provider
from gitops_lifecycle.discovery import ownership
from gitops_lifecycle.discovery.desired import (
    Defaults,
    application_body,
    application_patch,
    provider_body,
    provider_patch,
)
from gitops_lifecycle.discovery.outposts import Membership, OutpostGoneError
from gitops_lifecycle.discovery.spec import ProxySpec
from gitops_lifecycle.discovery.status import APPLICATION, OUTPOST, PROVIDER, Report
from gitops_lifecycle.discovery.view import View

log = logs.get("discovery")


class Stop(Exception):  # noqa: N818 - a verdict, not an error of ours
    """The reconciliation cannot go on until a person acts: phase Failed."""

    def __init__(self, reason: str, message: str, kind: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.kind = kind


@dataclass
class Context:
    """Who asks, and what they may take over."""

    key: str
    cluster: str
    spec: ProxySpec
    defaults: Defaults
    outpost: Outpost
    created: frozenset[int]
    """Provider pks we know we created for this ProxyConfig (status, or a lost answer)."""
    recorded_outpost: dict[str, Any] | None
    exists: Any
    """`exists(key)`: whether another ProxyConfig is in the cache (sibling conflicts)."""
    events: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, reason, message) of what was changed, for Kubernetes Events."""

    @property
    def marker(self) -> str:
        return ownership.marker(self.cluster, self.key)

    def note(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.events.append((type_, reason, message))


class Ensurer:
    """Brings Authentik in line with one ProxyConfig (writes nothing when it already is)."""

    def __init__(self, client: Authentik, view: View, membership: Membership) -> None:
        self.client = client
        self.view = view
        self.membership = membership
        self.maybe_created: dict[str, tuple[str, dict[str, Any]]] = {}
        """Provider name (casefolded) → ProxyConfig key and the body sent, for creates whose
        answer was lost."""

    async def ensure(self, ctx: Context, report: Report) -> None:
        """Provider, then application, then outpost; `report` says how far it got."""
        provider = await self._provider(ctx, report)
        report.provider_pk = provider.pk
        application = await self._application(ctx, provider, report)
        report.application_pk = application.pk
        report.application_slug = application.slug
        await self._outpost(ctx, provider, report)
        report.ready()

    def lost_create(self, provider: Provider, key: str) -> bool:
        """Whether `provider` may be the one an unanswered create made for ProxyConfig `key`.

        Only if it has every field that create sent: a provider of that name made by someone
        else meanwhile (or before, unseen by the listing) is not taken for ours.
        """
        sent = self.maybe_created.get(provider.name.casefold())
        return sent is not None and sent[0] == key and not provider_patch(sent[1], provider)

    # --- provider ---------------------------------------------------------------------------
    def _verdict(self, ctx: Context, provider: Provider,
                 application: Application | None) -> ownership.Verdict:
        created = set(ctx.created)
        if self.lost_create(provider, ctx.key):
            created.add(provider.pk)
        return ownership.judge_provider(provider, application, cluster=ctx.cluster, key=ctx.key,
                                        adopt=ctx.spec.adopt, created=frozenset(created))

    def _check(self, ctx: Context, verdict: ownership.Verdict, kind: str) -> bool:
        """Raise `Stop` unless we may manage it; whether that means adopting it."""
        if isinstance(verdict, ownership.Foreign):
            raise Stop("NotManaged", verdict.message, kind)
        if isinstance(verdict, ownership.Sibling):
            if ctx.exists(verdict.key):
                raise Stop("Conflict", f"{'provider' if kind == PROVIDER else 'application'} "
                           f"belongs to ProxyConfig {verdict.key}", kind)
            return False  # its ProxyConfig is gone: ours now, the marker is rewritten below
        return verdict.adopting

    def managed(self, *, key: str, cluster: str, name: str,
                created: frozenset[int]) -> Provider | None:
        """The provider a ProxyConfig manages under provider name `name`, from the view.

        The one of that name; else, when `spec.authentikConfig.providerName` changed, the one
        we made for this ProxyConfig under its old name (its pk in the status, still ours):
        renamed in place, it keeps its pk, application and outposts, and logins go on.
        """
        if (named := self.view.provider_named(name)) is not None:
            return named
        for pk in created:
            provider = self.view.providers.get(pk)
            if provider is None or provider.name.casefold() == name.casefold():
                continue
            verdict = ownership.judge_provider(provider, self.view.application_of(provider),
                                               cluster=cluster, key=key, adopt=False,
                                               created=created)
            if isinstance(verdict, ownership.Ours):
                return provider
        return None

    async def _provider(self, ctx: Context, report: Report) -> Provider:
        desired = provider_body(ctx.spec, ctx.defaults)
        known = self.managed(key=ctx.key, cluster=ctx.cluster, name=ctx.spec.provider_name,
                             created=ctx.created)
        if known is None:
            provider = await self._create_provider(ctx, desired)
            if provider is not None:
                report.ok(PROVIDER, "Created")
                return provider
            known = await self._fresh_provider_named(ctx.spec.provider_name)
        adopting = self._check(ctx, self._verdict(ctx, known, self.view.application_of(known)),
                               PROVIDER)
        if not provider_patch(desired, known) and not adopting:
            report.ok(PROVIDER, "Synced")
            return known
        # Something differs (or we adopt it): read it fresh and judge it again before writing.
        fresh = await self.client.provider(known.pk)
        if fresh is None:
            self.view.forget_provider(known.pk)
            raise UnavailableError(f"provider {known.name!r} vanished; it will be created again")
        application = None
        if fresh.assigned_application_slug:
            application = await self.client.application(fresh.assigned_application_slug)
        adopting = self._check(ctx, self._verdict(ctx, fresh, application), PROVIDER)
        patch = provider_patch(desired, fresh)
        if patch:
            before = fresh.name
            fresh = await self._write(PROVIDER, self.client.patch_provider(fresh.pk, patch))
            fields = ", ".join(sorted(patch))
            if "name" in patch:
                ctx.note("ProviderRenamed", f"provider {before!r} renamed to {fresh.name!r}")
            ctx.note("ProviderUpdated", f"provider {fresh.name!r} updated: {fields}")
        if adopting:
            ctx.note("Adopted", f"provider {fresh.name!r} adopted")
        self.view.remember_provider(fresh)
        report.ok(PROVIDER, "Adopted" if adopting else ("Updated" if patch else "Synced"))
        return fresh

    async def _create_provider(self, ctx: Context, desired: dict[str, Any]) -> Provider | None:
        """Create the provider; None when one with its name exists after all."""
        name = ctx.spec.provider_name
        try:
            provider = await self.client.create_provider(desired)
        except UnavailableError:
            # The create may have happened with its answer lost: if a provider of this name
            # then turns up with no application, it is the one we made.
            self.maybe_created[name.casefold()] = (ctx.key, desired)
            raise
        except RejectedError as exc:
            if "name" in exc.fields and await self._fresh_provider_named(name, missing=None):
                return None
            raise Stop("Rejected", f"Authentik rejected the provider: {exc}", PROVIDER) from None
        self.maybe_created.pop(name.casefold(), None)
        self.view.remember_provider(provider)
        ctx.created = ctx.created | {provider.pk}
        ctx.note("ProviderCreated", f"provider {provider.name!r} created (pk {provider.pk})")
        return provider

    async def _fresh_provider_named(self, name: str, missing: Any = ...) -> Any:
        provider = await self.client.provider_named(name)
        if provider is None:
            if missing is None:
                return None
            raise UnavailableError(f"provider {name!r} is neither there nor creatable; retrying")
        self.view.remember_provider(provider)
        return provider

    # --- application ------------------------------------------------------------------------
    async def _application(self, ctx: Context, provider: Provider,
                           report: Report) -> Application:
        slug = provider.assigned_application_slug or ctx.spec.application_slug
        desired = application_body(ctx.spec, provider=provider.pk, marker=ctx.marker)
        desired["slug"] = slug
        known = self.view.applications.get(slug)
        if known is None:
            try:
                created = await self.client.create_application(desired)
            except RejectedError as exc:
                if "slug" not in exc.fields:
                    raise Stop("Rejected", f"Authentik rejected the application: {exc}",
                               APPLICATION) from None
                known = await self.client.application(slug)
                if known is None:
                    raise UnavailableError(f"application {slug!r} exists and does not; "
                                           "retrying") from None
            else:
                self.view.remember_application(created)
                ctx.note("ApplicationCreated", f"application {slug!r} created")
                report.ok(APPLICATION, "Created")
                return created
        verdict = ownership.judge_application(known, cluster=ctx.cluster, key=ctx.key,
                                              adopt=ctx.spec.adopt, provider=provider.pk)
        self._check(ctx, verdict, APPLICATION)
        if not application_patch(desired, known):
            report.ok(APPLICATION, "Synced")
            return known
        fresh = await self.client.application(slug)
        if fresh is None:
            self.view.forget_application(slug)
            raise UnavailableError(f"application {slug!r} vanished; it will be created again")
        verdict = ownership.judge_application(fresh, cluster=ctx.cluster, key=ctx.key,
                                              adopt=ctx.spec.adopt, provider=provider.pk)
        adopting = self._check(ctx, verdict, APPLICATION)
        patch = application_patch(desired, fresh)
        if patch:
            fresh = await self._write(APPLICATION, self.client.patch_application(slug, patch))
            ctx.note("Adopted" if adopting else "ApplicationUpdated",
                     f"application {slug!r} {'adopted' if adopting else 'updated'}: "
                     f"{', '.join(sorted(patch))}")
        self.view.remember_application(fresh)
        report.ok(APPLICATION, "Adopted" if adopting else "Updated")
        return fresh

    # --- outpost ----------------------------------------------------------------------------
    async def _outpost(self, ctx: Context, provider: Provider, report: Report) -> None:
        outpost = ctx.outpost
        old = ctx.recorded_outpost
        # Only a membership we made is ever undone: one a person made stays theirs.
        added = (outpost.pk, provider.pk) in self.membership.added or bool(
            old and old.get("id") == outpost.pk and old.get("providerId") == provider.pk
            and old.get("added", True))
        if provider.pk not in outpost.providers:
            verified = await self.membership.change(outpost.pk, add=frozenset({provider.pk}))
            self.view.remember_outpost(verified)
            # Not ours if it was there already when read fresh (the view may be behind).
            added = added or (outpost.pk, provider.pk) in self.membership.added
            ctx.note("OutpostAssigned", f"provider {provider.name!r} added to outpost "
                     f"{outpost.name!r}")
        record = {"id": outpost.pk, "name": outpost.name, "providerId": provider.pk,
                  "added": added}
        if old and old.get("id") not in {None, outpost.pk} and \
                old.get("providerId") == provider.pk and old.get("added", True):
            # Added to the new outpost first; now leave the old one (only what we added there).
            await self._leave(ctx, provider, old)
        report.outpost = record
        report.ok(OUTPOST, "Assigned")

    async def _leave(self, ctx: Context, provider: Provider, old: dict[str, Any]) -> None:
        try:
            left = await self.membership.change(str(old["id"]), remove=frozenset({provider.pk}))
        except OutpostGoneError:
            return
        except RejectedError as exc:
            # Authentik keeps at least one provider on an outpost other than the embedded one.
            ctx.note("OutpostNotLeft", f"provider {provider.name!r} stays on outpost "
                     f"{old.get('name')!r}: {exc}", "Warning")
            return
        self.view.remember_outpost(left)
        ctx.note("OutpostLeft", f"provider {provider.name!r} removed from outpost "
                 f"{old.get('name')!r}")

    async def _write(self, kind: str, call: Any) -> Any:
        try:
            return await call
        except RejectedError as exc:
            what = "provider" if kind == PROVIDER else "application"
            raise Stop("Rejected", f"Authentik rejected the {what}: {exc}", kind) from None
