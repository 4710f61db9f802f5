"""Ownership: per cluster, per ProxyConfig; unmarked objects only when asked to adopt."""

from __future__ import annotations

from gitops_lifecycle.authentik.models import Application, Provider
from gitops_lifecycle.discovery.ownership import (
    Foreign,
    Ours,
    Sibling,
    judge_application,
    judge_provider,
    marker,
    read_marker,
)

PROVIDER = Provider(pk=5, name="App")


def _app(publisher: str | None, provider: int | None = 5) -> Application:
    return Application(pk="u", name="App", slug="app", provider=provider,
                       meta_publisher=publisher)


def test_marker_round_trip() -> None:
    mark = read_marker(marker("prod", "ns/app"))
    assert mark is not None
    assert (mark.cluster, mark.key) == ("prod", "ns/app")
    assert read_marker("goauthentik.io") is None
    assert read_marker("gitops-lifecycle:prod") is None
    assert read_marker(None) is None


def test_ours_sibling_and_other_cluster() -> None:
    mine = marker("prod", "ns/app")
    assert judge_provider(PROVIDER, _app(mine), cluster="prod", key="ns/app",
                          adopt=False) == Ours()
    assert judge_provider(PROVIDER, _app(mine), cluster="prod", key="ns/other",
                          adopt=False) == Sibling("ns/app")
    verdict = judge_provider(PROVIDER, _app(mine), cluster="staging", key="ns/app", adopt=True)
    assert isinstance(verdict, Foreign)
    assert "cluster 'prod'" in verdict.message


def test_unmarked_is_not_managed_unless_adopted() -> None:
    verdict = judge_provider(PROVIDER, _app("someone"), cluster="c", key="ns/app", adopt=False)
    assert verdict == Foreign("provider 'App' exists and is not managed by gitops-lifecycle")
    assert judge_provider(PROVIDER, None, cluster="c", key="ns/app", adopt=False) == verdict
    assert judge_provider(PROVIDER, None, cluster="c", key="ns/app",
                          adopt=True) == Ours(adopting=True)


def test_created_but_application_not_yet_made() -> None:
    assert judge_provider(PROVIDER, None, cluster="c", key="ns/app", adopt=False,
                          created=frozenset({5})) == Ours()
    # An unmarked application is someone's: knowing the pk does not make it ours.
    assert isinstance(judge_provider(PROVIDER, _app("x"), cluster="c", key="ns/app",
                                     adopt=False, created=frozenset({5})), Foreign)


def test_application_adopted_only_with_its_provider() -> None:
    assert judge_application(_app(None, provider=5), cluster="c", key="k/a", adopt=True,
                             provider=5) == Ours(adopting=True)
    assert isinstance(judge_application(_app(None, provider=9), cluster="c", key="k/a",
                                        adopt=True, provider=5), Foreign)
