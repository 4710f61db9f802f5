"""What is ours: an application's `meta_publisher` names this installation and the ProxyConfig.

`gitops-lifecycle:<cluster>:<namespace>/<name>`. Two clusters sharing an Authentik never touch
each other's objects; within one cluster, two ProxyConfigs never take each other's provider.
A provider is ours through its application, or because we created it and have not yet made
its application (its pk is in the ProxyConfig's status, or the create's answer was lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitops_lifecycle.authentik.models import Application, Provider

PUBLISHER = "gitops-lifecycle"
NOT_MANAGED = "exists and is not managed by gitops-lifecycle"


@dataclass(frozen=True, slots=True)
class Mark:
    """A parsed ownership marker."""

    cluster: str
    key: str
    """`namespace/name` of the ProxyConfig the object belongs to."""


def marker(cluster: str, key: str) -> str:
    """The marker for the ProxyConfig `key` (`namespace/name`) of `cluster`."""
    return f"{PUBLISHER}:{cluster}:{key}"


def read_marker(publisher: str | None) -> Mark | None:
    """The marker in an application's `meta_publisher`, if it carries one."""
    if not publisher or not publisher.startswith(f"{PUBLISHER}:"):
        return None
    cluster, sep, key = publisher.removeprefix(f"{PUBLISHER}:").partition(":")
    if not sep or not cluster or key.count("/") != 1:
        return None
    return Mark(cluster, key)


@dataclass(frozen=True, slots=True)
class Ours:
    """Ours to manage; `adopting` when taking over an unmarked object because asked to."""

    adopting: bool = False


@dataclass(frozen=True, slots=True)
class Sibling:
    """Ours in this cluster, but another ProxyConfig's."""

    key: str


@dataclass(frozen=True, slots=True)
class Foreign:
    """Not ours: never modified or deleted."""

    message: str


Verdict = Ours | Sibling | Foreign


def _by_mark(mark: Mark, *, cluster: str, key: str, what: str) -> Verdict:
    if mark.cluster != cluster:
        return Foreign(f"{what} is managed by gitops-lifecycle in cluster {mark.cluster!r}")
    return Ours() if mark.key == key else Sibling(mark.key)


def judge_provider(  # noqa: PLR0913 - the object, its application, and who asks
    provider: Provider, application: Application | None, *, cluster: str, key: str,
    adopt: bool, created: frozenset[int] = frozenset(),
) -> Verdict:
    """Whether the ProxyConfig `key` may manage `provider` (`application` is the one it has)."""
    what = f"provider {provider.name!r}"
    mark = read_marker(application.meta_publisher) if application is not None else None
    if mark is not None:
        return _by_mark(mark, cluster=cluster, key=key, what=what)
    if application is None and provider.pk in created:
        return Ours()
    if adopt:
        return Ours(adopting=True)
    return Foreign(f"{what} {NOT_MANAGED}")


def judge_application(
    application: Application, *, cluster: str, key: str, adopt: bool, provider: int | None,
) -> Verdict:
    """Whether the ProxyConfig `key` may manage the application with its slug."""
    what = f"application {application.slug!r}"
    mark = read_marker(application.meta_publisher)
    if mark is not None:
        return _by_mark(mark, cluster=cluster, key=key, what=what)
    if adopt and application.provider in {None, provider}:
        return Ours(adopting=True)
    return Foreign(f"{what} {NOT_MANAGED}")
