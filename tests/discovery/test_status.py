"""Status rendering: conditions, kept transition times, and no write when only time passed."""

from __future__ import annotations

from gitops_lifecycle.discovery.status import (
    APPLICATION,
    OUTPOST,
    PROVIDER,
    Report,
    differs,
    render,
)


def _ready() -> Report:
    report = Report(provider_pk=3, application_pk="u", application_slug="app")
    for kind in (PROVIDER, APPLICATION, OUTPOST):
        report.ok(kind, "Synced")
    return report.ready()


def test_ready_status_has_every_condition() -> None:
    status = render(_ready(), None, generation=2, now=0)
    assert status["phase"] == "Ready"
    assert status["observedGeneration"] == 2
    assert status["authentikProviderId"] == 3
    assert [c["type"] for c in status["conditions"]] == [
        "Ready", "ProviderSynced", "ApplicationSynced", "OutpostAssigned"]
    assert all(c["status"] == "True" for c in status["conditions"])


def test_resync_with_nothing_new_is_not_a_change() -> None:
    first = render(_ready(), None, generation=1, now=0)
    again = render(_ready(), first, generation=1, now=300)
    assert again["lastReconciled"] != first["lastReconciled"]
    assert not differs(first, again)


def test_failure_keeps_known_ids_and_says_why() -> None:
    first = render(_ready(), None, generation=1, now=0)
    report = Report().fail("NotManaged", "provider 'App' exists and is not managed",
                           kind=PROVIDER)
    status = render(report, first, generation=1, now=10)
    assert status["phase"] == "Failed"
    assert status["authentikProviderId"] == 3
    ready = status["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "NotManaged")
    assert ready["lastTransitionTime"] == "1970-01-01T00:00:10Z"
    provider = status["conditions"][1]
    assert provider["message"] == "provider 'App' exists and is not managed"
    assert differs(first, status)
