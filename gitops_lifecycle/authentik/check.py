"""`gitops-lifecycle authentik check`: can the daemon use this Authentik? (The image has no curl.)

Prints the URL, whether the token is accepted (never the token), the version, and the flows
and outpost the daemon would use; exit 0 when all is well, 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_lifecycle.authentik.client import Authentik
from gitops_lifecycle.authentik.errors import AuthentikError
from gitops_lifecycle.authentik.versions import supported
from gitops_lifecycle.settings import Settings


async def check(settings: Settings, say: Callable[[str], None] = print) -> int:
    """Run every check, saying what each found; the exit code."""
    config = settings.authentik
    ok = True

    def line(what: str, result: str, *, good: bool = True) -> None:
        nonlocal ok
        ok = ok and good
        say(f"{what:<20} {'ok  ' if good else 'FAIL'} {result}")

    line("url", config.url)
    if not config.configured():
        line("token", "none: set authentik.token or authentik.tokenFile", good=False)
        return 1
    source = f"from {config.token_file}" if config.token_file else "from authentik.token"
    async with Authentik.from_settings(config, settings.retry.circuit_breaker) as api:
        try:
            user = await api.me()
        except AuthentikError as exc:
            line("token", f"{source}: {exc}", good=False)
            return 1
        line("token", f"{source}: accepted for user {user.get('username', '?')!r}")
        try:
            version = await api.version()
        except AuthentikError as exc:
            line("version", f"cannot be read: {exc}", good=False)
        else:
            problem = supported(version)
            line("version", problem or f"{version} (supported)", good=problem is None)
        for what, slug in (("authorization flow", config.authorization_flow),
                           ("invalidation flow", config.invalidation_flow)):
            try:
                pk = await api.flow_pk(slug)
            except AuthentikError as exc:
                line(what, f"{slug}: {exc}", good=False)
                continue
            line(what, f"{slug} → {pk}" if pk else f"{slug}: no such flow", good=pk is not None)
        try:
            outpost = await api.find_outpost(config.outpost)
        except AuthentikError as exc:
            line("outpost", str(exc), good=False)
        else:
            name = config.outpost or "the embedded outpost"
            line("outpost", f"{outpost.name} ({outpost.pk}, {len(outpost.providers)} providers)"
                 if outpost else f"{name}: not found", good=outpost is not None)
    say("all checks passed" if ok else "some checks failed")
    return 0 if ok else 1
