"""Server-side defaults, as the real API server fills them in on every write.

The published schemas of the built-in kinds carry almost no `default` (the defaults live in
Go: `k8s.io/kubernetes/pkg/apis/<group>/v1/defaults.go`, `SetDefaults_*`), so they are
written here, each function after the one it follows. Custom resources take theirs from
their CRD's schema (`structural.default`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def _container(container: Obj) -> None:
    """SetDefaults_Container, SetDefaults_ContainerPort."""
    image = str(container.get("image") or "")
    tag = image.rsplit("/", 1)[-1]
    pinned = "@" in image or (":" in tag and not tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "IfNotPresent" if pinned else "Always")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or ():
        port.setdefault("protocol", "TCP")


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for part in ("initContainers", "containers"):
        for container in spec.get(part) or ():
            if isinstance(container, dict):
                _container(container)
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]


def _template(obj: Obj) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        pod_spec(template.setdefault("spec", {}))


def pod(obj: Obj) -> None:
    """SetDefaults_Pod (on top of SetDefaults_PodSpec)."""
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        # the DefaultTolerationSeconds admission plugin
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300})


def service(obj: Obj, allocate: Callable[[], str], old: Obj | None) -> None:
    """SetDefaults_Service; the cluster IP allocator; status.loadBalancer is `{}`."""
    spec = obj.setdefault("spec", {})
    before = (old or {}).get("spec") or {}
    for kept in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if kept in before and not spec.get(kept):
            spec[kept] = before[kept]  # patchAllocatedValues: allocations survive a PUT
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if kind != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = allocate()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or ():
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    status = obj.setdefault("status", {})
    status.setdefault("loadBalancer", {})


def job(obj: Obj) -> None:
    """SetDefaults_Job."""
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template(obj)


def cron_job(obj: Obj) -> None:
    """SetDefaults_CronJob."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        job(job_template)


def deployment(obj: Obj) -> None:
    """SetDefaults_Deployment (apps/v1)."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def replica_set(obj: Obj) -> None:
    """SetDefaults_ReplicaSet."""
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def stateful_set(obj: Obj) -> None:
    """SetDefaults_StatefulSet (the common parts)."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                       "rollingUpdate": {"partition": 0}})
    _template(obj)


def daemon_set(obj: Obj) -> None:
    """SetDefaults_DaemonSet."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 1, "maxSurge": 0}})
    _template(obj)


def replication_controller(obj: Obj) -> None:
    """SetDefaults_ReplicationController: selector and labels from the template's labels."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels:
        spec.setdefault("selector", dict(labels))
        obj.setdefault("metadata", {}).setdefault("labels", dict(labels))
    _template(obj)


def namespace(obj: Obj) -> None:
    """The namespace strategy: its name label and the `kubernetes` finalizer."""
    meta = obj.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = meta.get("name", "")
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])


def secret(obj: Obj) -> None:
    """SetDefaults_Secret."""
    obj.setdefault("type", "Opaque")


_BY_KIND: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): pod,
    ("", "Namespace"): namespace,
    ("", "Secret"): secret,
    ("", "ReplicationController"): replication_controller,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cron_job,
    ("apps", "Deployment"): deployment,
    ("apps", "ReplicaSet"): replica_set,
    ("apps", "StatefulSet"): stateful_set,
    ("apps", "DaemonSet"): daemon_set,
}


def apply(group: str, kind: str, obj: Obj, old: Obj | None, *,
          allocate_ip: Callable[[], str]) -> None:
    """Fill in the defaults of a built-in kind, in place."""
    if (group, kind) == ("", "Service"):
        service(obj, allocate_ip, old)
        return
    fill = _BY_KIND.get((group, kind))
    if fill is not None:
        fill(obj)
