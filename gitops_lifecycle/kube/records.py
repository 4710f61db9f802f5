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
from collections.abc import Mapping
from datetime import datetime
from typing import Generic, TypeVar

import msgspec

from gitops_lifecycle.kube import kept


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
_encode = msgspec.json.Encoder().encode
_KEPT_NONE = "{}"
_NO_OWNERS = "[]"


class ObjectMeta(Record, frozen=True):
    """Metadata; labels, annotations and owners stay compact JSON until they are read.

    A decoded dict of six labels costs five times its JSON text in memory, and those three
    are read only when a controller decides about the object, so they are kept as text and
    decoded on access. `compact()` (before caching) keeps only the labels and annotations
    some reader declared (`kube.kept`), stores the uid as a 128-bit integer and the
    resourceVersion as an integer when they read back as the same text, and makes each JSON
    text one interned string that every object with the same text shares (the Pods of one
    ReplicaSet share their owner reference). `uid` and `resource_version` read as strings.
    """

    name: str = ""
    namespace: str = ""
    uid_: str | int = ""
    resource_version_: str | int = ""
    generation: int = 0
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    # Raw JSON as decoded; `compact()` replaces each by a `str` of the JSON it keeps.
    labels_json: msgspec.Raw = msgspec.field(default=_EMPTY_MAP, name="labels")
    annotations_json: msgspec.Raw = msgspec.field(default=_EMPTY_MAP, name="annotations")
    owner_references_json: msgspec.Raw = msgspec.field(default=_EMPTY_LIST,
                                                       name="ownerReferences")
    finalizers: tuple[str, ...] = ()

    @property
    def uid(self) -> str:
        """The uid, as the API server wrote it."""
        uid = self.uid_
        return uid if isinstance(uid, str) else _uid_text(uid)

    @property
    def resource_version(self) -> str:
        """The resourceVersion, as the API server wrote it."""
        version = self.resource_version_
        return version if isinstance(version, str) else str(version)

    @property
    def labels(self) -> Mapping[str, str]:
        """The labels (a fresh map on every read; of a cached object, only those kept)."""
        return _read_map(self.labels_json, kept.LABELS)

    @property
    def annotations(self) -> Mapping[str, str]:
        """The annotations (a fresh map on every read; of a cached object, only those kept)."""
        return _read_map(self.annotations_json, kept.ANNOTATIONS)

    @property
    def owner_references(self) -> tuple[OwnerReference, ...]:
        """The owner references."""
        if not _present(self.owner_references_json):
            return ()
        return _owner_list.decode(self.owner_references_json)

    @property
    def key(self) -> str:
        """`namespace/name`, or `name` for cluster-scoped objects (as client-go keys them)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def controller_ref(self) -> OwnerReference | None:
        """The owner reference marked `controller: true`, if any."""
        return next((ref for ref in self.owner_references if ref.controller), None)

    def compact(self) -> None:
        """Detach from the response: keep the declared labels and annotations, share texts."""
        if isinstance(self.labels_json, msgspec.Raw):
            for name, keys in (("labels_json", kept.LABELS),
                               ("annotations_json", kept.ANNOTATIONS)):
                raw = bytes(getattr(self, name))
                values = (keys.keep(_string_map.decode(raw))
                          if _present(raw) and keys.may_keep(raw) else None)
                text = sys.intern(_encode(values).decode()) if values else _KEPT_NONE
                msgspec.structs.force_setattr(self, name, text)
            owners = self.owner_references_json
            msgspec.structs.force_setattr(self, "owner_references_json", sys.intern(
                bytes(owners).decode()) if _present(owners) else _NO_OWNERS)
        if isinstance(self.uid_, str):
            msgspec.structs.force_setattr(self, "uid_", _uid_number(self.uid_))
        if isinstance(self.resource_version_, str):
            msgspec.structs.force_setattr(self, "resource_version_",
                                          _version_number(self.resource_version_))
        _share(self, "namespace")
        if self.finalizers:
            msgspec.structs.force_setattr(self, "finalizers", tuple(map(sys.intern,
                                                                          self.finalizers)))


def _read_map(raw: msgspec.Raw | str, keys: kept.Keys) -> Mapping[str, str]:
    if isinstance(raw, str):  # cached: only the kept keys are there, and only those are read
        return kept.Kept(_string_map.decode(raw) if _present(raw) else {}, keys)
    return _string_map.decode(raw) if _present(raw) else {}


def _present(raw: msgspec.Raw | bytes | str) -> bool:
    # `{}`, `[]` and `null` are absent; anything shorter than 5 bytes cannot hold an entry.
    return len(raw) > 4


def _uid_number(uid: str) -> str | int:
    """A canonical UUID as its 128-bit number (44 bytes instead of 85), anything else as is."""
    digits = uid.replace("-", "")
    # Lower-case hex in groups of 8-4-4-4-12 reads back the same; anything else is kept as is.
    if not (len(uid) == 36 and len(digits) == 32 and digits.isascii() and digits.isalnum()
            and uid[8] == uid[13] == uid[18] == uid[23] == "-" and uid.islower()):
        return uid
    try:
        return int(digits, 16)
    except ValueError:
        return uid


def _uid_text(number: int) -> str:
    digits = f"{number:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _version_number(version: str) -> str | int:
    """A resourceVersion that reads back as the same digits as an int (etcd's are)."""
    if version.isascii() and version.isdigit() and (version[0] != "0" or version == "0"):
        return int(version)
    return version


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
