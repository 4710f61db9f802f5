"""Slim, immutable projections of Kubernetes objects, decoded straight from the API's JSON.

Only the fields the controllers read are declared; everything else (`managedFields`, the
pod template, container specs) is skipped by the decoder without being built, which is what
keeps informer caches small and syncing fast. Field names are snake_case here and camelCase
on the wire. Absent lists decode as empty tuples, absent maps as empty dicts.

Timestamps decode to `datetime` (msgspec parses RFC 3339 natively; `clock.seconds` gives epoch
seconds) rather than staying 69-byte strings.

`compact()` readies a record for a cache of 100,000s of objects, which is mostly small strings:
it detaches the record from the page it was decoded from and makes the strings every object
repeats (namespaces, node names, condition types and reasons, container names) one interned
copy, and repeated timestamps one object.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Generic, TypeVar

import msgspec


class Record(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", frozen=True,
             gc=False):
    """Base of every record: camelCase on the wire, unknown fields ignored, immutable.

    Records in an informer's cache are shared by every reader, hence frozen (each subclass
    says so again for type checkers). `gc=False` is safe because records are trees (no
    reference cycles) and saves memory and collector time on caches of 100,000s of objects.
    """


class OwnerReference(Record, frozen=True):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool = False


_EMPTY_MAP = msgspec.Raw(b"{}")
_EMPTY_LIST = msgspec.Raw(b"[]")
_string_map = msgspec.json.Decoder(dict[str, str])
_owner_list = msgspec.json.Decoder(tuple[OwnerReference, ...])


class _Labels(Record, frozen=True):
    labels: dict[str, str] = {}


class _Annotations(Record, frozen=True):
    annotations: dict[str, str] = {}


class _Owners(Record, frozen=True):
    owner_references: tuple[OwnerReference, ...] = ()


_merged_labels = msgspec.json.Decoder(_Labels)
_merged_annotations = msgspec.json.Decoder(_Annotations)
_merged_owners = msgspec.json.Decoder(_Owners)
_EMPTY_MERGED = msgspec.Raw(b"{}")


class ObjectMeta(Record, frozen=True):
    """Metadata; labels, annotations and owners stay compact JSON until they are read.

    A decoded dict of six labels costs five times its JSON text in memory, and those three
    are read only when a controller decides about the object, so they are kept as text
    and decoded on access. `compact()` copies them out of the page they were decoded from
    into one JSON object that all three fields then hold (one buffer instead of three).
    """

    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    labels_json: msgspec.Raw = msgspec.field(default=_EMPTY_MAP, name="labels")
    annotations_json: msgspec.Raw = msgspec.field(default=_EMPTY_MAP, name="annotations")
    owner_references_json: msgspec.Raw = msgspec.field(default=_EMPTY_LIST,
                                                       name="ownerReferences")
    finalizers: tuple[str, ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        """The labels (a fresh dict on every read)."""
        if self._merged():
            return _merged_labels.decode(self.labels_json).labels
        return _string_map.decode(self.labels_json) if _present(self.labels_json) else {}

    @property
    def annotations(self) -> dict[str, str]:
        """The annotations (a fresh dict on every read)."""
        if self._merged():
            return _merged_annotations.decode(self.annotations_json).annotations
        return _string_map.decode(self.annotations_json) if _present(self.annotations_json) else {}

    @property
    def owner_references(self) -> tuple[OwnerReference, ...]:
        """The owner references."""
        if self._merged():
            return _merged_owners.decode(self.owner_references_json).owner_references
        if not _present(self.owner_references_json):
            return ()
        return _owner_list.decode(self.owner_references_json)

    def _merged(self) -> bool:
        return self.labels_json is self.annotations_json is self.owner_references_json

    @property
    def key(self) -> str:
        """`namespace/name`, or `name` for cluster-scoped objects (as client-go keys them)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def controller_ref(self) -> OwnerReference | None:
        """The owner reference marked `controller: true`, if any."""
        return next((ref for ref in self.owner_references if ref.controller), None)

    def compact(self) -> None:
        """Copy the JSON fields out of the response into one buffer and share strings."""
        if not self._merged():
            parts = [part for key, raw in ((b'"labels":', self.labels_json),
                                           (b'"annotations":', self.annotations_json),
                                           (b'"ownerReferences":', self.owner_references_json))
                     if _present(raw) for part in (key, raw, b",")]
            merged = msgspec.Raw(b"".join([b"{", *parts[:-1], b"}"])) if parts else _EMPTY_MERGED
            for name in ("labels_json", "annotations_json", "owner_references_json"):
                msgspec.structs.force_setattr(self, name, merged)
        _share(self, "namespace")
        if self.finalizers:
            msgspec.structs.force_setattr(self, "finalizers", tuple(map(sys.intern,
                                                                          self.finalizers)))


def _present(raw: msgspec.Raw) -> bool:
    # `{}`, `[]` and `null` are absent; anything shorter than 5 bytes cannot hold an entry.
    return len(raw) > 4


def _share(record: Record, *names: str) -> None:
    """Replace string fields by their interned copy (freed when no record uses it any more)."""
    for name in names:
        msgspec.structs.force_setattr(record, name, sys.intern(getattr(record, name)))


Times = dict[datetime, datetime]


def _same_times(record: Record, times: Times, *names: str) -> None:
    """Replace timestamp fields equal to one seen before in the same object by that one."""
    for name in names:
        moment = getattr(record, name)
        if moment is not None:
            msgspec.structs.force_setattr(record, name, times.setdefault(moment, moment))


class Object(Record, frozen=True):
    """Any object, when only its metadata matters."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)

    @property
    def key(self) -> str:
        """`namespace/name` (or `name` when cluster-scoped)."""
        return self.metadata.key

    def compact(self) -> None:
        """Detach from the decoded page and share repeated strings (before caching)."""
        self.metadata.compact()

    def _times(self) -> Times:
        created = self.metadata.creation_timestamp
        return {} if created is None else {created: created}


class Status(Record, frozen=True):
    """The API's `Status` object: the body of errors and of watch ERROR events."""

    status: str = ""
    message: str = ""
    reason: str = ""
    code: int = 0


# --- batch/v1 Job ---------------------------------------------------------------------------
class JobCondition(Record, frozen=True):
    type: str = ""
    status: str = ""
    reason: str = ""
    last_transition_time: datetime | None = None


class JobSpec(Record, frozen=True):
    ttl_seconds_after_finished: int | None = None


class JobStatus(Record, frozen=True):
    conditions: tuple[JobCondition, ...] = ()
    start_time: datetime | None = None
    completion_time: datetime | None = None
    active: int = 0
    succeeded: int = 0
    failed: int = 0


class Job(Object, frozen=True):
    spec: JobSpec = JobSpec()
    status: JobStatus = JobStatus()

    def compact(self) -> None:
        """Also share condition types, statuses, reasons and repeated times."""
        super().compact()
        times = self._times()
        for condition in self.status.conditions:
            _share(condition, "type", "status", "reason")
            _same_times(condition, times, "last_transition_time")
        _same_times(self.status, times, "start_time", "completion_time")


# --- core/v1 Pod ----------------------------------------------------------------------------
class PersistentVolumeClaimSource(Record, frozen=True):
    claim_name: str = ""


class _Present(Record, frozen=True):
    """Any object: only its presence is read (nothing of it is kept)."""


class ClaimTemplateSpec(Record, frozen=True):
    access_modes: tuple[str, ...] = ()


class ClaimTemplate(Record, frozen=True):
    spec: ClaimTemplateSpec = ClaimTemplateSpec()


class EphemeralVolumeSource(Record, frozen=True):
    volume_claim_template: ClaimTemplate | None = None


class Volume(Record, frozen=True):
    name: str = ""
    persistent_volume_claim: PersistentVolumeClaimSource | None = None
    ephemeral: EphemeralVolumeSource | None = None
    """A generic ephemeral volume: a PersistentVolumeClaim named `<pod>-<volume>`."""
    empty_dir: _Present | None = None
    config_map: _Present | None = None
    secret: _Present | None = None
    projected: _Present | None = None
    downward_api: _Present | None = msgspec.field(default=None, name="downwardAPI")
    host_path: _Present | None = None

    @property
    def node_local(self) -> bool:
        """Whether this is a volume that lives and dies with the pod on its node."""
        return any(source is not None for source in (
            self.empty_dir, self.config_map, self.secret, self.projected, self.downward_api,
            self.host_path))


class PodSpec(Record, frozen=True):
    node_name: str = ""
    volumes: tuple[Volume, ...] = ()
    """Only the volumes that may outlive the node: claims, generic ephemeral volumes, and
    any source of unknown safety (node-local volumes are dropped on decoding)."""

    def __post_init__(self) -> None:
        # Nearly every pod has a projected service-account volume that nothing here reads.
        if any(volume.node_local for volume in self.volumes):
            kept = tuple(volume for volume in self.volumes if not volume.node_local)
            msgspec.structs.force_setattr(self, "volumes", kept)


class ContainerStateTerminated(Record, frozen=True):
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ContainerState(Record, frozen=True):
    terminated: ContainerStateTerminated | None = None


_NOT_TERMINATED = ContainerState()


class ContainerStatus(Record, frozen=True):
    name: str = ""
    restart_count: int = 0
    state: ContainerState = ContainerState()
    last_state: ContainerState = ContainerState()


class PodStatus(Record, frozen=True):
    phase: str = ""
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()


class Pod(Object, frozen=True):
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()

    def compact(self) -> None:
        """Also share the node, phase, container names and reasons, and repeated times."""
        super().compact()
        _share(self.spec, "node_name")
        _share(self.status, "phase")
        times = self._times()
        for status in (*self.status.init_container_statuses, *self.status.container_statuses):
            _share(status, "name")
            for name in ("state", "last_state"):
                terminated = getattr(status, name).terminated
                if terminated is None:  # running or waiting: nothing read, one shared record
                    msgspec.structs.force_setattr(status, name, _NOT_TERMINATED)
                else:
                    _share(terminated, "reason")
                    _same_times(terminated, times, "started_at", "finished_at")


# --- core/v1 PersistentVolumeClaim ----------------------------------------------------------
class PersistentVolumeClaimSpec(Record, frozen=True):
    access_modes: tuple[str, ...] = ()


class PersistentVolumeClaim(Object, frozen=True):
    spec: PersistentVolumeClaimSpec = PersistentVolumeClaimSpec()


# --- core/v1 Node ---------------------------------------------------------------------------
class Taint(Record, frozen=True):
    key: str = ""
    value: str = ""
    effect: str = ""
    time_added: datetime | None = None


class NodeCondition(Record, frozen=True):
    type: str = ""
    status: str = ""
    last_transition_time: datetime | None = None


class NodeSpec(Record, frozen=True):
    taints: tuple[Taint, ...] = ()


class NodeStatus(Record, frozen=True):
    conditions: tuple[NodeCondition, ...] = ()


class Node(Object, frozen=True):
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()


# --- apps/v1 ReplicaSet and Deployment ------------------------------------------------------
class ReplicaSetSpec(Record, frozen=True):
    replicas: int | None = None
    """None means the API default, 1."""


class ReplicaSetStatus(Record, frozen=True):
    replicas: int = 0


class ReplicaSet(Object, frozen=True):
    spec: ReplicaSetSpec = ReplicaSetSpec()
    status: ReplicaSetStatus = ReplicaSetStatus()


class DeploymentSpec(Record, frozen=True):
    replicas: int | None = None


class DeploymentStatus(Record, frozen=True):
    observed_generation: int = 0


class Deployment(Object, frozen=True):
    spec: DeploymentSpec = DeploymentSpec()
    status: DeploymentStatus = DeploymentStatus()


# --- core/v1 Event --------------------------------------------------------------------------
class ObjectReference(Record, frozen=True):
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""


class EventSeries(Record, frozen=True):
    count: int = 0
    last_observed_time: datetime | None = None


class Event(Object, frozen=True):
    involved_object: ObjectReference = ObjectReference()
    reason: str = ""
    message: str = ""
    type: str = ""
    count: int = 0
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    event_time: datetime | None = None
    series: EventSeries | None = None


# --- coordination.k8s.io/v1 Lease -----------------------------------------------------------
class LeaseSpec(Record, frozen=True):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    lease_transitions: int = 0


class Lease(Object, frozen=True):
    spec: LeaseSpec = LeaseSpec()


# --- envelopes ------------------------------------------------------------------------------
R = TypeVar("R", bound=Object)
E = TypeVar("E")


class ListMeta(Record, frozen=True):
    resource_version: str = ""
    continue_: str = ""
    remaining_item_count: int | None = None


class ObjectList(Record, Generic[E], frozen=True):
    """One page of a LIST: its items (records, or `msgspec.Raw` to decode them one by one)."""

    metadata: ListMeta = ListMeta()
    items: tuple[E, ...] = ()


class WatchEvent(Record, Generic[E], frozen=True):
    """One line of a watch stream (ERROR events carry a `Status`: decode those again)."""

    type: str
    object: E
