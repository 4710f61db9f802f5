"""Helpers for tests of the simulated Authentik over plain HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp

from gitops_lifecycle.simulation.authentik import SimulatedAuthentik

PROXY = "/api/v3/providers/proxy/"
APPS = "/api/v3/core/applications/"
OUTPOSTS = "/api/v3/outposts/instances/"


def session(authentik: SimulatedAuthentik, token: str | None = None) -> aiohttp.ClientSession:
    """A session that sends the token as Authentik expects it."""
    return aiohttp.ClientSession(
        base_url=authentik.url,
        headers={"Authorization": f"Bearer {token or authentik.token}"})


def provider_body(authentik: SimulatedAuthentik, name: str, **fields: Any) -> dict[str, Any]:
    """A valid proxy-provider request in forward_single mode, with the default flows."""
    auth = authentik.flow("default-provider-authorization-implicit-consent")
    inval = authentik.flow("default-provider-invalidation-flow")
    assert auth is not None
    assert inval is not None
    return {"name": name, "external_host": f"https://{name}.example.com",
            "mode": "forward_single", "authorization_flow": auth["pk"],
            "invalidation_flow": inval["pk"], **fields}


async def call(http: aiohttp.ClientSession, method: str, path: str,
               **kwargs: Any) -> tuple[int, Any]:
    """Status and body (JSON when it is JSON, None when empty) of one request."""
    async with http.request(method, path, **kwargs) as response:
        text = await response.text()
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, text or None
