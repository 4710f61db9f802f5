"""Slim records decode from real-shaped API JSON and keep only what controllers read."""

from __future__ import annotations

import msgspec
import pytest

from benchmarks import kube_objects
from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.clock import parse_time
from gitops_lifecycle.discovery import services
from gitops_lifecycle.kube import kept
from gitops_lifecycle.kube.client import decode
from gitops_lifecycle.kube.errors import InvalidResponseError
from gitops_lifecycle.kube.records import (
    Deployment,
    Event,
    Job,
    Lease,
    Node,
    Object,
    ObjectList,
    Pod,
    ReplicaSet,
)

APP = kept.label("app")  # what these tests read from compacted records
NOTE = kept.annotation("a")


def encoded(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def test_a_job_keeps_its_identity_conditions_and_times_and_drops_managed_fields():
    raw = kube_objects.job(3)
    job = decode(Job, encoded(raw))
    meta = raw["metadata"]
    assert job.key == f"{meta['namespace']}/{meta['name']}"
    assert job.metadata.uid == meta["uid"]
    assert job.metadata.labels == meta["labels"]
    assert job.metadata.annotations == meta["annotations"]
    assert job.metadata.controller_ref().kind == "CronJob"
    assert [(c.type, c.status) for c in job.status.conditions] == [
        ("SuccessCriteriaMet", "True"), ("Complete", "True")]
    assert job.status.completion_time.timestamp() == parse_time(raw["status"]["completionTime"])
    assert job.status.succeeded == 1
    assert job.spec.ttl_seconds_after_finished is None
    assert b"managedFields" not in encoded(job)
    assert b"template" not in encoded(job)


def test_a_pod_keeps_node_volumes_phase_and_container_terminations():
    raw = kube_objects.pod(20)  # restarted once after an OOM kill, with a PVC
    pod = decode(Pod, encoded(raw))
    assert pod.spec.node_name == raw["spec"]["nodeName"]
    claims = [v.persistent_volume_claim.claim_name for v in pod.spec.volumes
              if v.persistent_volume_claim]
    assert claims == ["data-20"]
    assert pod.status.phase == "Running"
    [status] = pod.status.container_statuses
    assert status.restart_count == 1
    assert status.state.terminated is None
    assert status.last_state.terminated.reason == "OOMKilled"
    assert status.last_state.terminated.exit_code == 137
    assert pod.metadata.owner_references[0].kind == "ReplicaSet"


def test_absent_fields_take_empty_defaults():
    pod = decode(Pod, b'{"metadata": {"name": "p", "namespace": "ns"}}')
    assert pod.metadata.labels == {}
    assert pod.metadata.annotations == {}
    assert pod.metadata.owner_references == ()
    assert pod.metadata.controller_ref() is None
    assert pod.metadata.deletion_timestamp is None
    assert pod.status.container_statuses == ()


def test_null_labels_read_as_empty():
    meta = decode(Object, b'{"metadata": {"name": "n", "labels": null}}').metadata
    assert meta.labels == {}


def test_cluster_scoped_objects_are_keyed_by_name():
    node = decode(Node, encoded({
        "metadata": {"name": "node-1"},
        "spec": {"taints": [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown",
                                   "lastTransitionTime": "2024-05-01T00:00:00Z",
                                   "lastHeartbeatTime": "2024-05-01T00:00:00Z"}]},
    }))
    assert node.key == "node-1"
    assert node.spec.taints[0].key == "node.kubernetes.io/out-of-service"
    assert node.status.conditions[0].status == "Unknown"


def test_replica_sets_and_deployments_keep_replicas_and_generations():
    rs = decode(ReplicaSet, encoded({
        "metadata": {"name": "web-1", "namespace": "ns", "generation": 3,
                     "annotations": {"deployment.kubernetes.io/revision": "4"}},
        "spec": {"replicas": 0}, "status": {"replicas": 0, "observedGeneration": 3}}))
    assert rs.spec.replicas == 0
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "4"
    deployment = decode(Deployment, encoded({
        "metadata": {"name": "web", "namespace": "ns", "generation": 5},
        "spec": {"replicas": 2}, "status": {"observedGeneration": 4}}))
    assert (deployment.metadata.generation, deployment.status.observed_generation) == (5, 4)


def test_events_keep_every_timestamp_a_sweep_judges_age_by():
    event = decode(Event, encoded({
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
        "reason": "BackOff", "type": "Warning", "count": 7,
        "firstTimestamp": "2024-05-01T00:00:00Z", "lastTimestamp": "2024-05-02T00:00:00Z",
        "eventTime": None,
        "series": {"count": 3, "lastObservedTime": "2024-05-03T00:00:00.000000Z"},
    }))
    assert event.involved_object.kind == "Pod"
    assert event.last_timestamp.timestamp() == parse_time("2024-05-02T00:00:00Z")
    assert event.event_time is None
    assert event.series.last_observed_time.timestamp() == parse_time("2024-05-03T00:00:00Z")


def test_leases_keep_the_holder_and_times():
    lease = decode(Lease, encoded({
        "metadata": {"name": "l", "namespace": "ns"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                 "renewTime": "2024-05-01T00:00:00.000000Z", "leaseTransitions": 2}}))
    assert (lease.spec.holder_identity, lease.spec.lease_transitions) == ("a", 2)
    assert lease.spec.renew_time.timestamp() == parse_time("2024-05-01T00:00:00Z")


def test_a_list_page_carries_its_version_and_continue_token():
    page = decode(ObjectList[Job], encoded({
        "kind": "JobList", "metadata": {"resourceVersion": "42", "continue": "abc"},
        "items": [kube_objects.job(1)]}))
    assert (page.metadata.resource_version, page.metadata.continue_) == ("42", "abc")
    assert len(page.items) == 1


def test_compacted_metadata_no_longer_references_the_response():
    body = bytearray(encoded({"metadata": {"name": "p", "labels": {APP: "web"}}}))
    compacted = msgspec.json.decode(body, type=Pod)
    compacted.metadata.compact()
    referencing = msgspec.json.decode(body, type=Pod)
    body[:] = b" " * len(body)
    assert compacted.metadata.labels == {"app": "web"}
    with pytest.raises(msgspec.DecodeError):
        _ = referencing.metadata.labels


def test_records_are_immutable():
    job = decode(Job, encoded(kube_objects.job(1)))
    with pytest.raises(AttributeError):
        job.metadata.name = "other"  # type: ignore[misc]


def test_json_that_does_not_fit_is_an_invalid_response():
    with pytest.raises(InvalidResponseError):
        decode(Job, b'{"metadata": {"name": 5}}')


def test_pods_keep_only_the_volumes_backed_by_a_claim():
    pod = decode(Pod, encoded(kube_objects.pod(10)))
    assert [v.name for v in pod.spec.volumes] == ["data"]
    assert decode(Pod, encoded(kube_objects.pod(11))).spec.volumes == ()


def test_compacted_jobs_share_repeated_strings_and_times():
    first, second = (decode(Job, encoded(kube_objects.job(i))) for i in (3, 4))
    for job in (first, second):
        job.compact()
    assert first.status.conditions[1].reason is second.status.conditions[1].reason
    assert first.status.completion_time is first.status.conditions[1].last_transition_time
    assert first.status.start_time is first.metadata.creation_timestamp


def test_compacted_pods_read_the_same_and_share_node_and_container_names():
    raw = kube_objects.pod(20)  # restarted once: a last state with its times
    fresh, first, second = (decode(Pod, encoded(raw)) for _ in range(3))
    for pod in (first, second):
        pod.compact()
    assert msgspec.structs.replace(first, metadata=fresh.metadata) == fresh
    for read in ("owner_references", "key", "uid", "resource_version", "name", "namespace"):
        assert getattr(first.metadata, read) == getattr(fresh.metadata, read)
    assert first.spec.node_name is second.spec.node_name
    assert first.status.container_statuses[0].name is second.status.container_statuses[0].name


def test_compacted_metadata_reads_absent_labels_and_owners_as_empty():
    meta = decode(Object, b'{"metadata": {"name": "n", "annotations": {"a": "b"}}}').metadata
    meta.compact()
    assert (meta.labels, meta.annotations, meta.owner_references) == ({}, {"a": "b"}, ())
    bare = decode(Object, b'{"metadata": {"name": "n"}}').metadata
    bare.compact()
    assert (bare.labels, bare.annotations, bare.owner_references) == ({}, {}, ())


def test_compacted_metadata_keeps_only_the_labels_and_annotations_readers_declared():
    # The readers declare their keys where they name them, when imported (the daemon imports
    # them all before its informers start).
    assert marks.OPT_OUT in kept.ANNOTATIONS.keys
    assert kept.ANNOTATIONS.kept(services.PREFIX + "external-host")
    meta = decode(Object, encoded({"metadata": {
        "name": "n",
        "labels": {"app": "web", "pod-template-hash": "7d9f8b6c4",
                   "app.kubernetes.io/instance": "web"},
        "annotations": {"a": "b", "kubectl.kubernetes.io/restartedAt": "2024-05-01",
                        "authentik.io/external-host": "https://x", "gitops.io/cleanup": "false"},
    }})).metadata
    meta.compact()
    assert meta.labels == {"app": "web", "app.kubernetes.io/instance": "web"}
    assert meta.annotations == {"a": "b", "authentik.io/external-host": "https://x",
                                "gitops.io/cleanup": "false"}


def test_reading_a_label_no_reader_declared_from_a_cached_object_is_an_error():
    meta = decode(Object, encoded({"metadata": {"name": "n", "labels": {"app": "web"}}})).metadata
    assert meta.labels.get("undeclared") is None  # straight from the API: everything is there
    meta.compact()
    with pytest.raises(kept.NotKeptError, match="undeclared"):
        meta.labels.get("undeclared")
    with pytest.raises(kept.NotKeptError):
        _ = "undeclared" in meta.annotations
    assert meta.labels.get(APP) == "web"
    assert NOTE not in meta.annotations


def test_a_key_declared_after_objects_were_cached_without_it_is_refused():
    keys = kept.Keys("label")
    keys.declare("early")
    assert keys.keep({"early": "1", "late": "2"}) == {"early": "1"}
    keys.declare("early")  # again: nothing new
    with pytest.raises(RuntimeError, match="late"):
        keys.declare("late")


@pytest.mark.parametrize(("uid", "version"), [
    ("0b3c2e46-6a8d-4f0e-9a51-3c1d2e4f5a6b", "123456789"),
    ("0B3C2E46-6A8D-4F0E-9A51-3C1D2E4F5A6B", "0123"),  # not as we would write them back
    ("not-a-uuid", "v1"),
    ("", ""),
])
def test_compacted_uid_and_resource_version_read_back_as_the_server_wrote_them(uid, version):
    meta = decode(Object, encoded({"metadata": {"name": "n", "uid": uid,
                                                "resourceVersion": version}})).metadata
    meta.compact()
    assert (meta.uid, meta.resource_version) == (uid, version)
    assert meta.key == "n"


def test_compacted_objects_with_the_same_owner_share_one_copy_of_its_reference():
    raw = kube_objects.pod(7)  # two Pods of one ReplicaSet
    first, second, fresh = (decode(Pod, encoded(raw)) for _ in range(3))
    for pod in (first, second):
        pod.compact()
    assert first.metadata.owner_references_json is second.metadata.owner_references_json
    assert first.metadata.labels_json is second.metadata.labels_json
    assert first.metadata.owner_references == fresh.metadata.owner_references
