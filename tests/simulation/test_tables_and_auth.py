"""`kubectl get` columns per kind, `includeObject`, and `kubectl auth can-i` / `whoami`.

Rules: k8s.io/kubernetes/pkg/printers/internalversion/printers.go (the columns of each kind,
priority 1 for `-o wide`); API concepts "Receiving resources as Tables" (includeObject=None|
Metadata|Object); SelfSubjectAccessReview and SelfSubjectReview (authorization.k8s.io/v1,
authentication.k8s.io/v1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clients import kubectl, needs_kubectl

from gitops_lifecycle.simulation import SimulatedCluster

pytestmark = needs_kubectl


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.7"}}


async def test_get_pods_wide_shows_node_and_ip(sim: SimulatedCluster, kubeconfig: Path) -> None:
    sim.create(_pod("web"))
    wide = await kubectl(kubeconfig, "get", "pods", "-o", "wide")
    header, row = wide.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "NODE" in header
    assert "IP" in header
    assert "node-1" in row
    assert "10.244.0.7" in row


async def test_get_events_and_jobs_show_their_columns(
    sim: SimulatedCluster, kubeconfig: Path,
) -> None:
    sim.create({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "web.1", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
                "reason": "Pulled", "message": "image pulled", "type": "Normal",
                "lastTimestamp": "2023-11-14T22:13:20Z"})
    sim.create({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "backup", "namespace": "default"},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "busybox"}]}}}})
    events = await kubectl(kubeconfig, "get", "events")
    jobs = await kubectl(kubeconfig, "get", "jobs")
    assert events.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT",
                                              "MESSAGE"]
    assert "pod/web" in events
    assert "image pulled" in events
    assert jobs.splitlines()[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert "0/1" in jobs


async def test_include_object_none_leaves_the_rows_bare(sim: SimulatedCluster, http: Any) -> None:
    sim.create(_pod("web"))
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    async with http.get("/api/v1/namespaces/default/pods", headers=accept,
                        params={"includeObject": "None"}) as response:
        bare = await response.json()
    async with http.get("/api/v1/namespaces/default/pods", headers=accept,
                        params={"includeObject": "Object"}) as response:
        whole = await response.json()
    assert "object" not in bare["rows"][0]
    assert whole["rows"][0]["object"]["kind"] == "Pod"


async def test_kubectl_auth_can_i_and_whoami(kubeconfig: Path) -> None:
    allowed = await kubectl(kubeconfig, "auth", "can-i", "create", "pods")
    whoami = await kubectl(kubeconfig, "auth", "whoami")
    assert allowed.strip() == "yes"
    assert "kubernetes-admin" in whoami
