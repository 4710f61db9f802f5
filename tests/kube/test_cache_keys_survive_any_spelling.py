"""Cached objects keep every declared key however its JSON spells it, and ids round-trip."""

from __future__ import annotations

import msgspec
import pytest

import gitops_lifecycle.cleanup.annotations as marks
import gitops_lifecycle.discovery.services  # noqa: F401 - declares its keys
from gitops_lifecycle.kube.client import decode
from gitops_lifecycle.kube.records import Object


def cached(metadata: bytes) -> Object:
    obj = decode(Object, b'{"metadata":' + metadata + b"}")
    obj.compact()
    return obj


def uncached(metadata: bytes) -> Object:
    return decode(Object, b'{"metadata":' + metadata + b"}")


# --- dropped protection markers -------------------------------------------------------
@pytest.mark.parametrize("annotations", [
    rb'{"gitops.io\/cleanup":"false"}',           # JSON-escaped solidus (valid JSON)
    rb'{"gitops.io\u002fcleanup":"false"}',       # unicode escape of '/'
    rb'{"\u0067itops.io/cleanup":"false"}',
])
def test_opt_out_survives_json_escapes(annotations: bytes) -> None:
    raw = b'{"name":"j","annotations":' + annotations + b"}"
    assert marks.opted_out(uncached(raw).metadata.annotations)  # decoded: protected
    assert marks.opted_out(cached(raw).metadata.annotations)    # cached: must stay protected


@pytest.mark.parametrize("labels", [
    rb'{"helm.toolkit.fluxcd.io\/name":"x"}',
    rb'{"app.kubernetes.io\/instance":"x"}',
])
def test_gitops_label_survives_json_escapes(labels: bytes) -> None:
    raw = b'{"name":"j","labels":' + labels + b"}"
    meta = cached(raw).metadata
    assert marks.gitops_managed(meta.labels, meta.annotations)


def test_plain_markers_kept() -> None:
    raw = (b'{"name":"j","labels":{"a":"b","kustomize.toolkit.fluxcd.io/name":"k",'
           b'"kustomize.toolkit.fluxcd.io/namespace":"n"},'
           b'"annotations":{"x":"y","gitops.io/cleanup":"false","helm.sh/hook":"pre"}}')
    meta = cached(raw).metadata
    assert marks.opted_out(meta.annotations)
    assert marks.gitops_managed(meta.labels, meta.annotations)
    assert marks.helm_hook(meta.annotations)


def test_case_and_prefix_neighbours_not_confused() -> None:
    raw = b'{"name":"j","annotations":{"Gitops.io/cleanup":"false","gitops.io/cleanup-ttl":"1h"}}'
    meta = cached(raw).metadata
    assert not marks.opted_out(meta.annotations)
    assert marks.ttl_override(meta.annotations, 5.0) == 3600


# --- uid / resourceVersion round trip ------------------------------------------------
@pytest.mark.parametrize("uid", [
    "0a3f1b2c-0000-4000-8000-00000000000a",
    "0A3F1B2C-0000-4000-8000-00000000000A",
    "00000000-0000-0000-0000-000000000000",
    "a\u0663\u0663\u0663\u0663\u0663\u0663\u0663-\u0663\u0663\u0663\u0663-4000-8000-000000000001",
    "a\uff11\uff11\uff11\uff11\uff11\uff11\uff11-1111-4000-8000-000000000001",
    "not-a-uuid",
])
@pytest.mark.parametrize("rv", ["0", "007", "123", "9" * 40, "abc", "12a", "\u0663", "+1", " 1",
                                "1_0"])
def test_uid_and_rv_round_trip(uid: str, rv: str) -> None:
    raw = msgspec.json.encode({"name": "j", "uid": uid, "resourceVersion": rv})
    meta = cached(raw).metadata
    assert (meta.uid, meta.resource_version) == (uid, rv)


def test_a_job_opted_out_with_an_escaped_key_is_not_deleted_from_the_cache() -> None:
    """Same decode -> compact the informer does (informer.py:282/294), then jobs.decide."""
    from gitops_lifecycle.cleanup import jobs
    from gitops_lifecycle.cleanup.decision import Skip
    from gitops_lifecycle.kube.records import Job
    from tests.cleanup.builders import job_dict
    from tests.cleanup.harness import settings

    body = msgspec.json.encode(job_dict("j", finished=0.0,
                                        annotations={"gitops.io/cleanup": "false"}))
    body = body.replace(b'"gitops.io/cleanup"', rb'"gitops.io\/cleanup"')  # same JSON value
    fresh = decode(Job, body)
    cached_job = decode(Job, body)
    cached_job.compact()
    config = settings().cleanup
    assert isinstance(jobs.decide(fresh, 10 * 86400.0, config), Skip)
    assert isinstance(jobs.decide(cached_job, 10 * 86400.0, config), Skip)
