"""Outpost membership: the `providers` list is shared with people and other tools.

PATCH replaces the whole list and Authentik has no ETag, so every change is: a fresh GET,
the union (or difference) of provider ids, a PATCH of `providers` only, and a GET to verify.
Writes to one outpost are serialized, and changes that arrive while one is in flight are
applied together in the next write (a thousand new providers cost a handful of writes).
A failed or partial read means no write: the list is never built from something we did not
just read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gitops_lifecycle import logs
from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import AuthentikError, UnavailableError
from gitops_lifecycle.authentik.models import Outpost

log = logs.get("discovery.outposts")


BATCH_WINDOW = 0.2
"""Seconds a change waits for others to the same outpost before the write."""


class OutpostGoneError(AuthentikError):
    """The outpost no longer exists."""


@dataclass
class _Change:
    add: frozenset[int]
    remove: frozenset[int]
    done: asyncio.Future[Outpost] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Membership:
    """Adds and removes providers on outposts, one verified write per batch per outpost."""

    def __init__(self, client: Authentik, *, window: float = BATCH_WINDOW) -> None:
        self._client = client
        self.window = window
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, list[_Change]] = {}
        self.writes = 0
        self.added: set[tuple[str, int]] = set()
        """(outpost, provider) memberships this process made (status may lag behind it)."""

    async def change(self, outpost: str, *, add: frozenset[int] = frozenset(),
                     remove: frozenset[int] = frozenset()) -> Outpost:
        """Add `add` to and remove `remove` from outpost `outpost`; the verified outpost."""
        change = _Change(add, remove)
        self._pending.setdefault(outpost, []).append(change)
        # A moment for the changes of other reconciles to join this write.
        await asyncio.sleep(self.window)
        async with self._locks.setdefault(outpost, asyncio.Lock()):
            # Unless a write that held the lock meanwhile took this change along already.
            if change in self._pending.get(outpost, ()):
                await self._apply(outpost, self._pending.pop(outpost))
        return await change.done

    async def _apply(self, pk: str, batch: list[_Change]) -> None:
        try:
            before, outpost = await self._write(pk, batch)
        except Exception as exc:
            for change in batch:
                change.done.set_exception(exc)
            return
        except BaseException:
            for change in batch:
                change.done.set_exception(UnavailableError("the outpost write was interrupted"))
                # Marked as read: when the daemon stops, the changes' waiters are cancelled too
                # and nobody awaits it; a waiter still there gets the error all the same.
                change.done.exception()
            raise
        listed = set(outpost.providers)
        for change in batch:
            if change.add <= listed and not change.remove & listed:
                self.added |= {(pk, provider) for provider in change.add - before}
                self.added -= {(pk, provider) for provider in change.remove}
                change.done.set_result(outpost)
            else:
                change.done.set_exception(UnavailableError(
                    f"outpost {outpost.name!r} changed while we wrote it; trying again"))

    async def _write(self, pk: str, batch: list[_Change]) -> tuple[set[int], Outpost]:
        """The providers as read before the write, and the outpost as verified after it."""
        current = await self._client.outpost(pk)
        if current is None:
            raise OutpostGoneError(f"outpost {pk} no longer exists")
        wanted = set(current.providers)
        for change in batch:
            wanted = (wanted | change.add) - change.remove
        if wanted == set(current.providers):
            return set(current.providers), current
        self.writes += 1
        await self._client.set_outpost_providers(pk, sorted(wanted))
        verified = await self._client.outpost(pk)
        if verified is None:
            raise OutpostGoneError(f"outpost {current.name!r} vanished while we wrote it")
        log.info("outpost providers changed", outpost=current.name,
                 added=sorted(wanted - set(current.providers)),
                 removed=sorted(set(current.providers) - wanted))
        return set(current.providers), verified
