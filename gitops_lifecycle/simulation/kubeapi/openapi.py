"""`/openapi/v2` and `/openapi/v3`: the served kinds' schemas, as kubectl reads them.

kubectl (1.27+) reads `/openapi/v3`, then one document per group version, to find out
whether a kind's PATCH accepts the `fieldValidation` query parameter (if so it leaves
validation to the server: `resource.NewQueryParamVerifierV3`), to print `kubectl explain`
and to compute client-side apply patches from `x-kubernetes-patch-merge-key`. The documents
are built from the upstream definitions in `schemas.json.gz` and the CRDs' schemas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec

from gitops_lifecycle.simulation.kubeapi import schema
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _refs(node: Any, prefix: str, *, wrap: bool) -> Any:
    """References as `#/definitions/X` (v2) or `#/components/schemas/X` (v3, in allOf)."""
    if isinstance(node, list):
        return [_refs(item, prefix, wrap=wrap) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _refs(prop, prefix, wrap=wrap) for name, prop in value.items()}
        elif key == "$ref" and isinstance(value, str):
            out[key] = prefix + value
        else:
            out[key] = _refs(value, prefix, wrap=wrap)
    if wrap and "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _closure(roots: Iterable[str], defs: dict[str, Any]) -> list[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_names(defs[name]) - seen)
    return sorted(seen)


def _names(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_names(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            found |= _names(list(value.values()))
        elif key != "$ref":
            found |= _names(value)
    return found


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _base(rt: ResourceType) -> str:
    return f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"


def _operation(rt: ResourceType, action: str, ref: str, *, v3: bool) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    for name in _QUERY if action in ("post", "put", "patch") else ("pretty",):
        param: dict[str, Any] = {"name": name, "in": "query", "uniqueItems": True}
        if v3:
            param["schema"] = {"type": "string"}
        else:
            param["type"] = "string"
        params.append(param)
    target = {"$ref": ref}
    ok = ({"description": "OK", "content": {"application/json": {"schema": target}}} if v3
          else {"description": "OK", "schema": target})
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}", "parameters": params, "responses": {"200": ok},
        "x-kubernetes-action": action, "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if action in ("post", "put", "patch") and v3:
        op["requestBody"] = {"content": {"*/*": {"schema": target}}}
    return op


def _paths(rt: ResourceType, ref: str, *, v3: bool) -> dict[str, Any]:
    where = f"{_base(rt)}/namespaces/{{namespace}}" if rt.namespaced else _base(rt)
    collection = f"{where}/{rt.plural}"
    return {
        collection: {"get": _operation(rt, "list", ref, v3=v3),
                     "post": _operation(rt, "post", ref, v3=v3)},
        f"{collection}/{{name}}": {
            verb: _operation(rt, verb, ref, v3=v3) for verb in ("get", "put", "patch", "delete")
        },
    }


def _definition(rt: ResourceType) -> str:
    return schema.definition_name(rt.api_version, rt.kind) or _custom_name(rt)


def _custom_name(rt: ResourceType) -> str:
    reverse = ".".join(reversed(rt.group.split("."))) if rt.group else "core"
    return f"{reverse}.{rt.version}.{rt.kind}"


def _defs(served: list[ResourceType],
          custom: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    defs = dict(schema.definitions())
    for rt in served:
        body = custom.get((rt.api_version, rt.kind))
        if body is not None:
            defs[_custom_name(rt)] = _custom_definition(rt, body)
    return defs


def _custom_definition(rt: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
    """A CRD version's schema as the server publishes it: `metadata` is ObjectMeta, and
    `apiVersion` and `kind` are described (apiextensions-apiserver `builder.BuildOpenAPIV2`)."""
    properties = dict(body.get("properties") or {})
    properties["metadata"] = {"$ref": _OBJECT_META, "description": "Standard object's "
                              "metadata. More info: https://git.k8s.io/community/contributors/"
                              "devel/sig-architecture/api-conventions.md#metadata"}
    described = {
        "apiVersion": "APIVersion defines the versioned schema of this representation of an "
                      "object.",
        "kind": "Kind is a string value representing the REST resource this object "
                "represents.",
    }
    for key, text in described.items():
        properties[key] = {"description": text, "type": "string",
                           **{k: v for k, v in (properties.get(key) or {}).items()
                              if k != "type"}}
    return {**body, "properties": properties, "x-kubernetes-group-version-kind": [_gvk(rt)]}


def v2(served: Iterable[ResourceType],
       custom: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """The Swagger 2.0 document of every served kind."""
    paths, definitions = _paths_and_schemas(list(served), custom, "#/definitions/", v3=False)
    return {"swagger": "2.0", "info": _info(), "paths": paths, "definitions": definitions}


def _paths_and_schemas(
    served: list[ResourceType], custom: dict[tuple[str, str], dict[str, Any]], prefix: str,
    *, v3: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The paths of `served` and every schema they reach, referenced under `prefix`."""
    defs = _defs(served, custom)
    paths: dict[str, Any] = {}
    roots = []
    for rt in served:
        name = _definition(rt)
        if name not in defs:
            continue
        roots.append(name)
        paths.update(_paths(rt, f"{prefix}{name}", v3=v3))
    return paths, {n: _refs(defs[n], prefix, wrap=v3) for n in _closure(roots, defs)}


def _info() -> dict[str, str]:
    return {"title": "Kubernetes", "version": f"v{schema.document()['release']}"}


def group_versions(served: Iterable[ResourceType]) -> list[str]:
    """The `/openapi/v3` keys: `api/v1`, `apis/batch/v1`, ..."""
    keys: list[str] = []
    for rt in served:
        key = _base(rt).lstrip("/")
        if key not in keys:
            keys.append(key)
    return keys


def v3(key: str, served: Iterable[ResourceType],
       custom: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any] | None:
    """The OpenAPI 3 document of one group version (`apis/batch/v1`), or None."""
    mine = [rt for rt in served if _base(rt).lstrip("/") == key]
    if not mine:
        return None
    paths, schemas = _paths_and_schemas(mine, custom, "#/components/schemas/", v3=True)
    return {"openapi": "3.0.0", "info": _info(), "paths": paths,
            "components": {"schemas": schemas}}


def v3_index(served: Iterable[ResourceType],
             custom: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document is, with a hash of its content."""
    served = list(served)
    paths = {}
    for key in group_versions(served):
        body = msgspec.json.encode(v3(key, served, custom))
        digest = hashlib.sha512(body).hexdigest().upper()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}
