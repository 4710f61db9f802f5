"""What Authentik holds, as of the last complete listing, kept current with our own writes.

A resync lists every provider, application and outpost (pages of 100): that is the whole cost
of a steady state, never a GET per object. Reconciles decide from this view and verify with a
fresh read before changing anything that exists; the orphan sweep acts only when the last
listing completed (`complete`), so a listing that failed part-way never looks like "nothing
there".
"""

from __future__ import annotations

import asyncio

import msgspec

from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.models import Application, Outpost, Provider


class View:
    """Providers by pk and name, applications by slug, outposts by pk."""

    def __init__(self) -> None:
        self.providers: dict[int, Provider] = {}
        self._names: dict[str, int] = {}
        self.applications: dict[str, Application] = {}
        self.outposts: dict[str, Outpost] = {}
        self.loaded = False
        """A listing has completed at least once."""
        self.complete = False
        """The most recent listing completed: every page of every kind."""
        self.error = ""
        """Why the most recent listing failed."""

    async def refresh(self, client: Authentik) -> None:
        """List everything again; on any failure the old view stays and `complete` is False."""
        try:
            providers, applications, outposts = await asyncio.gather(
                client.providers(), client.applications(), client.outposts()
            )
        except BaseException as exc:
            self.complete = False
            self.error = str(exc)
            raise
        self.providers = {p.pk: p for p in providers}
        self._names = {p.name.casefold(): p.pk for p in providers}
        self.applications = {a.slug: a for a in applications}
        self.outposts = {o.pk: o for o in outposts}
        self.loaded = self.complete = True
        self.error = ""

    def provider_named(self, name: str) -> Provider | None:
        pk = self._names.get(name.casefold())
        return self.providers.get(pk) if pk is not None else None

    def application_of(self, provider: Provider) -> Application | None:
        """The application a provider is linked to."""
        slug = provider.assigned_application_slug
        return self.applications.get(slug) if slug else None

    def remember_provider(self, provider: Provider) -> None:
        old = self.providers.get(provider.pk)
        if old is not None and old.name.casefold() != provider.name.casefold():
            self._names.pop(old.name.casefold(), None)
        self.providers[provider.pk] = provider
        self._names[provider.name.casefold()] = provider.pk

    def forget_provider(self, pk: int) -> None:
        old = self.providers.pop(pk, None)
        if old is not None and self._names.get(old.name.casefold()) == pk:
            del self._names[old.name.casefold()]

    def remember_application(self, application: Application) -> None:
        self.applications[application.slug] = application
        provider = self.providers.get(application.provider or -1)
        if provider is not None and provider.assigned_application_slug != application.slug:
            # Authentik reports the link on the provider too; keep both sides in step.
            self.remember_provider(msgspec.structs.replace(
                provider, assigned_application_slug=application.slug))

    def forget_application(self, slug: str) -> None:
        self.applications.pop(slug, None)

    def remember_outpost(self, outpost: Outpost) -> None:
        self.outposts[outpost.pk] = outpost
