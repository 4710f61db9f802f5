"""The kinds the simulated cluster serves: one table row per resource, no handler per kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

# Field selectors every resource supports, as the real server does.
_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_EVENT_FIELDS = frozenset({
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
})
_POD_FIELDS = frozenset({
    "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
})


_GENERATION_GROUPS = frozenset({"apps", "batch", "networking.k8s.io", "policy"})
_GENERATION_KINDS = frozenset({("", "ReplicationController"),
                               ("apiextensions.k8s.io", "CustomResourceDefinition")})


ALL = ("all",)


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the API and how the server treats it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    status: bool = False  # has a status subresource
    builtin: bool = True  # list items omit kind/apiVersion (custom resources keep them)
    fields: frozenset[str] = frozenset()
    orphan_by_default: bool = False  # default propagation is Orphan (batch/v1 Jobs)
    storage: str = ""  # resources of several versions share one storage
    categories: tuple[str, ...] = ()  # `kubectl get all` asks for the category `all`
    # Served from a CustomResourceDefinition: its name, the version's schema, printer
    # columns and scale subresource (none for built-in kinds).
    crd: str = ""
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    scale: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        """`batch/v1`, or `v1` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lower-case kind, as discovery names it."""
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        """The kind of a list of these."""
        return f"{self.kind}List"

    @property
    def store_key(self) -> str:
        """Where the objects live: shared by every version of the same resource."""
        return self.storage or f"{self.group}/{self.plural}"

    @property
    def field_labels(self) -> frozenset[str]:
        """The field selector labels this resource supports."""
        return _META_FIELDS | self.fields

    @property
    def generation(self) -> bool:
        """Whether objects carry `metadata.generation`: the kinds whose strategy sets it
        (workloads, CRDs and every custom resource), not Pods, Leases, Services or Events."""
        return not self.builtin or self.group in _GENERATION_GROUPS or \
            (self.group, self.kind) in _GENERATION_KINDS


# The scale subresource of the built-in workloads (their `ScaleREST`): spec.replicas and
# status.replicas; the selector is the workload's `spec.selector` written as a string.
WORKLOAD_SCALE: dict[str, Any] = {"specReplicasPath": ".spec.replicas",
                                  "statusReplicasPath": ".status.replicas"}

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
                 status=True, fields=frozenset({"status.phase"})),
    ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), status=True,
                 fields=frozenset({"spec.unschedulable"})),
    ResourceType("", "v1", "pods", "Pod", short_names=("po",), status=True, fields=_POD_FIELDS,
                 categories=ALL),
    ResourceType("", "v1", "services", "Service", short_names=("svc",), status=True,
                 categories=ALL),
    ResourceType("", "v1", "secrets", "Secret", fields=frozenset({"type"})),
    ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    ResourceType("", "v1", "events", "Event", short_names=("ev",), fields=_EVENT_FIELDS),
    ResourceType("", "v1", "replicationcontrollers", "ReplicationController",
                 short_names=("rc",), status=True, categories=ALL, scale=WORKLOAD_SCALE),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                 short_names=("pvc",), status=True),
    ResourceType("batch", "v1", "jobs", "Job", status=True, orphan_by_default=True,
                 fields=frozenset({"status.successful"}), categories=ALL),
    ResourceType("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), status=True,
                 categories=ALL),
    ResourceType("apps", "v1", "deployments", "Deployment", short_names=("deploy",),
                 status=True, categories=ALL, scale=WORKLOAD_SCALE),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), status=True,
                 fields=frozenset({"status.replicas"}), categories=ALL,
                 scale=WORKLOAD_SCALE),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), status=True,
                 categories=ALL),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",),
                 status=True, categories=ALL, scale=WORKLOAD_SCALE),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease"),
    # What the chart installs beside the daemon's own kinds.
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole",
                 namespaced=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                 namespaced=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
                 short_names=("pdb",), status=True),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy",
                 short_names=("netpol",)),
    ResourceType("events.k8s.io", "v1", "events", "Event", short_names=("ev",),
                 fields=frozenset({"reason", "type", "reportingController", "regarding.kind",
                                   "regarding.namespace", "regarding.name", "regarding.uid"}),
                 storage="/events"),  # one storage with core/v1 Events (`conversion`)
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                 "CustomResourceDefinition", namespaced=False, short_names=("crd", "crds"),
                 status=True),
)
# Custom kinds are not listed here: CustomResourceDefinitions make them served (`catalog`).

BY_KIND: dict[tuple[str, str], ResourceType] = {(r.api_version, r.kind): r for r in RESOURCES}
CRDS = BY_KIND["apiextensions.k8s.io/v1", "CustomResourceDefinition"]


class UnknownKindError(KeyError):
    """No served resource has this apiVersion and kind."""


def by_kind(api_version: str, kind: str) -> ResourceType:
    """The built-in resource of an `apiVersion` and `kind` (`Catalog.by_kind` knows custom
    resources too)."""
    try:
        return BY_KIND[api_version, kind]
    except KeyError as exc:
        raise UnknownKindError(f"the server does not serve {kind} in {api_version}") from exc
