"""Which Events the events policy selects: judged by the newest timestamp they carry."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_lifecycle.cleanup import events
from gitops_lifecycle.cleanup.decision import Delete, Skip, Wait
from gitops_lifecycle.settings import CleanupSettings
from tests.cleanup.builders import HOUR, NOW, event_dict, record

DEFAULTS = CleanupSettings()
DAY = 24 * HOUR

CASES = [
    ("lastTimestamp past ttl", event_dict(last=NOW - 2 * DAY), DEFAULTS,
     Delete("events", NOW - DAY)),
    ("lastTimestamp within ttl", event_dict(last=NOW - HOUR), DEFAULTS,
     Wait("events", NOW + 23 * HOUR)),
    ("a recent eventTime keeps an old lastTimestamp",
     event_dict(last=NOW - 2 * DAY, event_time=NOW - HOUR), DEFAULTS,
     Wait("events", NOW + 23 * HOUR)),
    ("a recent series observation keeps it",
     event_dict(event_time=NOW - 2 * DAY, series=NOW - 2 * HOUR), DEFAULTS,
     Wait("events", NOW + 22 * HOUR)),
    ("eventTime alone", event_dict(event_time=NOW - 3 * DAY), DEFAULTS,
     Delete("events", NOW - 2 * DAY)),
    ("firstTimestamp is the fallback", event_dict(first=NOW - 3 * DAY), DEFAULTS,
     Delete("events", NOW - 2 * DAY)),
    ("ttl annotation", event_dict(last=NOW - 2 * HOUR, annotations={"gitops.io/cleanup-ttl": "1h"}),
     DEFAULTS, Delete("events", NOW - HOUR)),
    ("opted out", event_dict(last=NOW - 2 * DAY, annotations={"gitops.io/cleanup": "false"}),
     DEFAULTS, Skip("events", "opted_out")),
    ("excluded namespace", event_dict(last=NOW - 2 * DAY, namespace="audit"),
     CleanupSettings.model_validate({"namespaces": {"exclude": ["audit"]}}),
     Skip("events", "excluded_namespace")),
    ("policy disabled", event_dict(last=NOW - 2 * DAY),
     CleanupSettings.model_validate({"controller": {"policies": {"events": {"enabled": False}}}}),
     Skip("events", "policy_disabled")),
    ("custom ttl", event_dict(last=NOW - 2 * HOUR),
     CleanupSettings.model_validate({"controller": {"policies": {"events": {"ttl": "1h"}}}}),
     Delete("events", NOW - HOUR)),
]


@pytest.mark.parametrize(("event", "config", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_event_decision(event: dict[str, Any], config: CleanupSettings, expected: object) -> None:
    assert events.decide(record(event), NOW, config) == expected


def test_an_event_with_no_timestamp_falls_back_to_its_creation() -> None:
    event = record(event_dict())
    assert events.last_seen(event) == NOW - 30 * DAY


def test_an_event_with_no_time_at_all_is_skipped() -> None:
    event = event_dict()
    del event["metadata"]["creationTimestamp"]
    assert events.decide(record(event), NOW, DEFAULTS) == Skip("events", "no_timestamp")
