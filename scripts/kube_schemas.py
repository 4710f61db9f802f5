"""Write the simulated cluster's schema file from the upstream Kubernetes schemas.

The schemas come from the PyPI package `kubernetes-validate`, which ships the OpenAPI
definitions of every recent Kubernetes release. The simulated cluster serves one release
(`discovery.version()`), so this keeps only the kinds it serves and the definitions they
reach, in the OpenAPI form the API server publishes (`type: string`, not `[string, null]`).

    python scripts/kube_schemas.py           # rewrite the file
    python scripts/kube_schemas.py --check   # exit 1 if the file is not what it would write
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

RELEASE = "1.31.0"
OUT = Path(__file__).resolve().parent.parent / "gitops_lifecycle/simulation/kubeapi/schemas.json.gz"

# (group, version, kind) of every kind the simulated cluster serves or answers with.
KINDS = [
    ("", "v1", "Namespace"), ("", "v1", "Node"), ("", "v1", "Pod"), ("", "v1", "Service"),
    ("", "v1", "Secret"), ("", "v1", "ConfigMap"), ("", "v1", "Event"),
    ("", "v1", "PersistentVolumeClaim"), ("", "v1", "ReplicationController"),
    ("", "v1", "ServiceAccount"), ("", "v1", "Endpoints"),
    ("apps", "v1", "Deployment"), ("apps", "v1", "ReplicaSet"), ("apps", "v1", "StatefulSet"),
    ("apps", "v1", "DaemonSet"),
    ("batch", "v1", "Job"), ("batch", "v1", "CronJob"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("events.k8s.io", "v1", "Event"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    ("authentication.k8s.io", "v1", "SelfSubjectReview"),
    ("policy", "v1", "Eviction"), ("policy", "v1", "PodDisruptionBudget"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "Role"), ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("", "v1", "Status"), ("", "v1", "DeleteOptions"),
]


def _upstream() -> dict[str, Any]:
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    text = (root / f"v{RELEASE}-local" / "_definitions.json").read_text()
    return json.loads(text)["$defs"]


def _openapi(node: Any) -> Any:
    """JSON-schema `[T, "null"]` types back to OpenAPI's `T`; `$ref`s to definition names."""
    if isinstance(node, list):
        return [_openapi(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kept = [t for t in value if t != "null"]
            out[key] = kept[0] if len(kept) == 1 else kept
        elif key == "$ref":
            out[key] = value.rsplit("/", 1)[-1]
        elif key == "properties":
            out[key] = {name: _openapi(prop) for name, prop in value.items()}
        else:
            out[key] = _openapi(value)
    if out.get("oneOf") and all(set(o) == {"type"} for o in out["oneOf"]):
        # IntOrString and Quantity: the API server publishes them as a string format
        formats = {"integer": "int-or-string", "number": "quantity"}
        kinds = [o["type"] for o in out.pop("oneOf")]
        out["type"] = "string"
        out["format"] = next((formats[k] for k in kinds if k in formats), "")
        out["x-kubernetes-int-or-string"] = True
    return out


def _refs(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
    for key, value in node.items():
        if key == "properties":
            found |= _refs(list(value.values()))
        elif key != "$ref":
            found |= _refs(value)
    return found


def build() -> bytes:
    """The compact schema file's bytes."""
    upstream = {name: _openapi(schema) for name, schema in _upstream().items()}
    roots = []
    for group, version, kind in KINDS:
        for name, schema in upstream.items():
            gvks = schema.get("x-kubernetes-group-version-kind") or ()
            if any((g.get("group", ""), g["version"], g["kind"]) == (group, version, kind)
                   for g in gvks):
                roots.append(name)
                break
        else:
            raise SystemExit(f"no upstream schema for {group}/{version} {kind}")
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(_refs(upstream[name]) - keep)
    document = {"release": RELEASE, "source": "kubernetes-validate", "roots": roots,
                "definitions": {name: upstream[name] for name in sorted(keep)}}
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the file is current")
    args = parser.parse_args()
    data = build()
    if args.check:
        if not OUT.exists() or gzip.decompress(OUT.read_bytes()) != gzip.decompress(data):
            print(f"{OUT} is not current: run python scripts/kube_schemas.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
