"""Slim, immutable projections of Kubernetes objects, decoded straight from the API's JSON.

Only the fields the controllers read are declared; everything else (`managedFields`, the
pod template, container specs) is skipped by the decoder without being built, which is what
keeps informer caches small and syncing fast. Field names are snake_case here and camelCase
on the wire. Timestamps stay RFC 3339 strings (parse them with `clock.parse_time` when a
decision needs them). Absent lists decode as empty tuples, absent maps as empty dicts.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec


class Record(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Base of every record: camelCase on the wire, unknown fields ignored.

    Records in an informer's cache are shared by every reader: treat them as read-only.
    `gc=False` is safe because records are trees (no reference cycles) and saves memory and
    collector time on caches of hundreds of thousands of objects.
    """


class OwnerReference(Record):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool = False


class ObjectMeta(Record):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: tuple[OwnerReference, ...] = ()
    finalizers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """`namespace/name`, or `name` for cluster-scoped objects (as client-go keys them)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def controller_ref(self) -> OwnerReference | None:
        """The owner reference marked `controller: true`, if any."""
        return next((ref for ref in self.owner_references if ref.controller), None)


class Object(Record):
    """Any object, when only its metadata matters."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)

    @property
    def key(self) -> str:
        """`namespace/name` (or `name` when cluster-scoped)."""
        return self.metadata.key


class Status(Record):
    """The API's `Status` object: the body of errors and of watch ERROR events."""

    status: str = ""
    message: str = ""
    reason: str = ""
    code: int = 0


# --- batch/v1 Job ---------------------------------------------------------------------------
class JobCondition(Record):
    type: str = ""
    status: str = ""
    reason: str = ""
    last_transition_time: str | None = None


class JobSpec(Record):
    ttl_seconds_after_finished: int | None = None


class JobStatus(Record):
    conditions: tuple[JobCondition, ...] = ()
    start_time: str | None = None
    completion_time: str | None = None
    active: int = 0
    succeeded: int = 0
    failed: int = 0


class Job(Object):
    spec: JobSpec = JobSpec()
    status: JobStatus = JobStatus()


# --- core/v1 Pod ----------------------------------------------------------------------------
class PersistentVolumeClaimSource(Record):
    claim_name: str = ""


class Volume(Record):
    name: str = ""
    persistent_volume_claim: PersistentVolumeClaimSource | None = None


class PodSpec(Record):
    node_name: str = ""
    volumes: tuple[Volume, ...] = ()


class ContainerStateTerminated(Record):
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None


class ContainerState(Record):
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(Record):
    name: str = ""
    restart_count: int = 0
    state: ContainerState = ContainerState()
    last_state: ContainerState = ContainerState()


class PodStatus(Record):
    phase: str = ""
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()


class Pod(Object):
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()


# --- core/v1 PersistentVolumeClaim ----------------------------------------------------------
class PersistentVolumeClaimSpec(Record):
    access_modes: tuple[str, ...] = ()


class PersistentVolumeClaim(Object):
    spec: PersistentVolumeClaimSpec = PersistentVolumeClaimSpec()


# --- core/v1 Node ---------------------------------------------------------------------------
class Taint(Record):
    key: str = ""
    value: str = ""
    effect: str = ""
    time_added: str | None = None


class NodeCondition(Record):
    type: str = ""
    status: str = ""
    last_transition_time: str | None = None


class NodeSpec(Record):
    taints: tuple[Taint, ...] = ()


class NodeStatus(Record):
    conditions: tuple[NodeCondition, ...] = ()


class Node(Object):
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()


# --- apps/v1 ReplicaSet and Deployment ------------------------------------------------------
class ReplicaSetSpec(Record):
    replicas: int | None = None
    """None means the API default, 1."""


class ReplicaSetStatus(Record):
    replicas: int = 0


class ReplicaSet(Object):
    spec: ReplicaSetSpec = ReplicaSetSpec()
    status: ReplicaSetStatus = ReplicaSetStatus()


class DeploymentSpec(Record):
    replicas: int | None = None


class DeploymentStatus(Record):
    observed_generation: int = 0


class Deployment(Object):
    spec: DeploymentSpec = DeploymentSpec()
    status: DeploymentStatus = DeploymentStatus()


# --- core/v1 Event --------------------------------------------------------------------------
class ObjectReference(Record):
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""


class EventSeries(Record):
    count: int = 0
    last_observed_time: str | None = None


class Event(Object):
    involved_object: ObjectReference = ObjectReference()
    reason: str = ""
    message: str = ""
    type: str = ""
    count: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    series: EventSeries | None = None


# --- coordination.k8s.io/v1 Lease -----------------------------------------------------------
class LeaseSpec(Record):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0


class Lease(Object):
    spec: LeaseSpec = LeaseSpec()


# --- envelopes ------------------------------------------------------------------------------
R = TypeVar("R", bound=Object)
E = TypeVar("E")


class ListMeta(Record):
    resource_version: str = ""
    continue_: str = ""
    remaining_item_count: int | None = None


class ObjectList(Record, Generic[R]):
    """One page of a LIST: its items and where the next page or the watch starts."""

    metadata: ListMeta = ListMeta()
    items: tuple[R, ...] = ()


class WatchEvent(Record, Generic[E]):
    """One line of a watch stream (ERROR events carry a `Status`: decode those again)."""

    type: str
    object: E
