"""Changes to one outpost are written in batches; a batch whose write is interrupted (the
daemon stopping) leaves no exception behind that nobody will read."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from gitops_lifecycle.authentik.models import Outpost
from gitops_lifecycle.discovery.outposts import Membership

pytestmark = pytest.mark.looptime


class SlowOutposts:
    """Authentik's outpost endpoints as the membership uses them, the PATCH never answered."""

    async def outpost(self, pk: str) -> Outpost:
        return Outpost(pk=pk, name="edge", providers=[1])

    async def set_outpost_providers(self, pk: str, providers: list[int]) -> Outpost:
        await asyncio.sleep(3600)
        raise AssertionError("not reached")


async def test_an_interrupted_batch_write_leaves_no_unread_exception() -> None:
    unread: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    membership = Membership(SlowOutposts(), window=0.1)  # type: ignore[arg-type]
    changes = [asyncio.create_task(membership.change("edge", add=frozenset({n})))
               for n in (2, 3)]
    await asyncio.sleep(1)  # both joined one batch; its PATCH is in flight
    for task in changes:
        task.cancel()
    await asyncio.gather(*changes, return_exceptions=True)
    del changes
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert [c["message"] for c in unread] == []
