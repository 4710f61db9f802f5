"""Jobs and Pods shaped like `kubectl get -o json` shows them on a real cluster.

Sizes matter for the informer benchmark: these carry `managedFields`, the pod template, probes,
projected service-account volumes and the labels the Job and ReplicaSet controllers add
(about 3.8 KB of JSON per Job and 4.8 KB per Pod).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

_rng = random.Random(42)
NAMESPACES = tuple(f"team-{i}" for i in range(50))
"""The namespaces the objects are spread over."""


def _uid() -> str:
    return str(uuid.UUID(int=_rng.getrandbits(128)))


def _hex(n: int) -> str:
    return f"{_rng.getrandbits(n * 4):0{n}x}"


def timestamp(i: int) -> str:
    return f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z"


def _fields(*keys: str) -> dict[str, Any]:
    return {f"f:{key}": {} for key in keys}


def _job_managed_fields(i: int) -> list[dict[str, Any]]:
    container = {".": {}, **_fields("args", "command", "image", "imagePullPolicy", "name",
                                     "terminationMessagePath", "terminationMessagePolicy"),
                 "f:env": {".": {}, 'k:{"name":"TARGET"}': {".": {}, **_fields("name", "value")}},
                 "f:resources": {".": {}, "f:limits": {".": {}, **_fields("cpu", "memory")},
                                 "f:requests": {".": {}, **_fields("cpu", "memory")}}}
    spec = {**_fields("backoffLimit", "completionMode", "completions", "parallelism", "suspend"),
            "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                           "f:spec": {"f:containers": {'k:{"name":"export"}': container},
                                      **_fields("dnsPolicy", "restartPolicy", "schedulerName",
                                                "securityContext",
                                                "terminationGracePeriodSeconds")}}}
    status = _fields("completionTime", "conditions", "ready", "startTime", "succeeded",
                     "terminating", "uncountedTerminatedPods")
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "batch/v1",
         "time": timestamp(i), "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {".": {}, **_fields("job-name", "controller-uid")},
                                     "f:ownerReferences": {".": {}, 'k:{"uid":"x"}': {}}},
                      "f:spec": spec}},
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "batch/v1",
         "time": timestamp(i + 1), "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": status}},
    ]


def job(i: int) -> dict[str, Any]:
    """A finished Job; every third is owned by a CronJob."""
    name = f"data-export-{i:06d}-{_hex(5)}"
    uid = _uid()
    owners = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": f"export-{i % 13}",
               "uid": _uid(), "controller": True, "blockOwnerDeletion": True}] if i % 3 == 0 else []
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    done = {"status": "True", "lastProbeTime": timestamp(i + 1),
            "lastTransitionTime": timestamp(i + 1), "reason": "CompletionsReached",
            "message": "Reached expected number of succeeded pods"}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": name, "namespace": NAMESPACES[i % 50], "uid": uid, "generation": 1,
            "creationTimestamp": timestamp(i),
            "labels": {"app.kubernetes.io/name": "data-export",
                       "app.kubernetes.io/instance": f"export-{i % 13}", **labels},
            "annotations": {"batch.kubernetes.io/job-tracking": "",
                            "meta.helm.sh/release-name": f"export-{i % 13}"},
            "ownerReferences": owners, "managedFields": _job_managed_fields(i),
        },
        "spec": {
            "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
            "manualSelector": False,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {"metadata": {"labels": {"app": "data-export", **labels}}, "spec": {
                "containers": [{
                    "name": "export", "image": "registry.example.com/tools/data-export:1.14.2",
                    "command": ["/bin/export"],
                    "args": ["--target", "s3://bucket/exports", "--since", "24h"],
                    "env": [{"name": "TARGET", "value": "s3://bucket/exports"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                                  "requests": {"cpu": "100m", "memory": "128Mi"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst", "securityContext": {},
                "schedulerName": "default-scheduler"}},
        },
        "status": {
            "conditions": [{"type": "SuccessCriteriaMet", **done}, {"type": "Complete", **done}],
            "startTime": timestamp(i), "completionTime": timestamp(i + 1), "succeeded": 1,
            "terminating": 0, "ready": 0, "uncountedTerminatedPods": {},
        },
    }


def _pod_managed_fields(i: int) -> list[dict[str, Any]]:
    condition = {".": {}, **_fields("lastProbeTime", "lastTransitionTime", "status", "type")}
    container = {".": {}, **_fields("image", "imagePullPolicy", "name"),
                 "f:ports": {".": {}, 'k:{"containerPort":8080,"protocol":"TCP"}': {
                     ".": {}, **_fields("containerPort", "name", "protocol")}},
                 "f:readinessProbe": {".": {}, "f:httpGet": {".": {}, **_fields("path", "port")}},
                 "f:resources": {".": {}, **_fields("limits", "requests")}}
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
         "time": timestamp(i), "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:generateName": {},
                                     "f:labels": {".": {}, **_fields("pod-template-hash")},
                                     "f:ownerReferences": {".": {}, 'k:{"uid":"x"}': {}}},
                      "f:spec": {"f:containers": {'k:{"name":"web"}': container},
                                 **_fields("dnsPolicy", "enableServiceLinks", "restartPolicy",
                                           "schedulerName", "securityContext",
                                           "terminationGracePeriodSeconds")}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
         "time": timestamp(i + 1), "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": {
             "f:conditions": {'k:{"type":"ContainersReady"}': condition,
                              'k:{"type":"Ready"}': condition},
             **_fields("containerStatuses", "hostIP", "phase", "podIP", "startTime"),
             "f:podIPs": {".": {}, 'k:{"ip":"10.0.0.1"}': {".": {}, "f:ip": {}}}}}},
    ]


def _pod_spec(i: int) -> dict[str, Any]:
    token = "kube-api-access-" + _hex(5)
    volumes: list[dict[str, Any]] = [{"name": token, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]
    if i % 10 == 0:
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"data-{i}"}})
    tolerations = [{"key": f"node.kubernetes.io/{key}", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 300}
                   for key in ("not-ready", "unreachable")]
    return {
        "volumes": volumes,
        "containers": [{
            "name": "web", "image": "registry.example.com/web:2.3.1",
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                          "requests": {"cpu": "250m", "memory": "256Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                               "timeoutSeconds": 1, "periodSeconds": 10,
                               "successThreshold": 1, "failureThreshold": 3},
            "volumeMounts": [{"name": token, "readOnly": True,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
        "serviceAccount": "default", "nodeName": f"node-{i % 40:03d}", "securityContext": {},
        "schedulerName": "default-scheduler", "tolerations": tolerations, "priority": 0,
        "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
    }


def _pod_status(i: int) -> dict[str, Any]:
    restarted = i % 20 == 0
    last_state = {"terminated": {
        "exitCode": 137, "reason": "OOMKilled", "startedAt": timestamp(i),
        "finishedAt": timestamp(i + 1), "containerID": "containerd://" + _hex(64)}}
    return {
        "phase": "Running",
        "conditions": [{"type": kind, "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": timestamp(i + 1)}
                       for kind in ("PodReadyToStartContainers", "Initialized", "Ready",
                                    "ContainersReady", "PodScheduled")],
        "hostIP": "10.0.1.17", "hostIPs": [{"ip": "10.0.1.17"}], "podIP": "10.244.3.21",
        "podIPs": [{"ip": "10.244.3.21"}], "startTime": timestamp(i), "qosClass": "Burstable",
        "containerStatuses": [{
            "name": "web", "state": {"running": {"startedAt": timestamp(i + 1)}},
            "lastState": last_state if restarted else {}, "ready": True,
            "restartCount": 1 if restarted else 0, "image": "registry.example.com/web:2.3.1",
            "imageID": "registry.example.com/web@sha256:" + _hex(64),
            "containerID": "containerd://" + _hex(64), "started": True}],
    }


def pod(i: int) -> dict[str, Any]:
    """A running Deployment pod; every twentieth restarted once after an OOM kill."""
    replica_set = f"web-{i % 97:02d}-7d9f8b6c4"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{replica_set}-{_hex(5)}", "generateName": f"{replica_set}-",
            "namespace": NAMESPACES[i % 50], "uid": _uid(), "creationTimestamp": timestamp(i),
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web",
                       "pod-template-hash": "7d9f8b6c4"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": timestamp(i),
                            "prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": replica_set, "uid": _uid(), "controller": True,
                                 "blockOwnerDeletion": True}],
            "managedFields": _pod_managed_fields(i),
        },
        "spec": _pod_spec(i),
        "status": _pod_status(i),
    }


def many(make: Any, count: int, variants: int = 64) -> Any:
    """`count` distinct objects from a few variants of `make` (building each one is slow)."""
    import msgspec

    templates = [msgspec.json.encode(make(i)) for i in range(min(count, variants))]
    for i in range(count):
        obj = msgspec.json.decode(templates[i % len(templates)])
        meta = obj["metadata"]
        meta["name"] = f"{meta['name']}-{i:06d}"
        meta["uid"] = _uid()
        yield obj


def seed(sim: Any, count: int) -> None:
    """`count` Jobs and `count` Pods into a simulated cluster that has not started yet."""
    sim.ensure_namespaces(*NAMESPACES)
    for make in (job, pod):
        for obj in many(make, count):
            # The registry directly: `create` would copy each object twice more.
            rt = sim.registry.catalog.by_kind(obj["apiVersion"], obj["kind"])
            sim.registry.create(rt, obj, namespace=obj["metadata"]["namespace"], restore=True)
