"""Server-side apply: a PATCH of `application/apply-patch+yaml` creates or updates an object.

https://kubernetes.io/docs/reference/using-api/server-side-apply/ and k8s.io/apiserver
`endpoints/handlers/patch.go` (`applyPatcher`), `fieldmanager` (`structuredMergeManager.Apply`):

- `fieldManager` is required: 422 `PatchOptions.meta.k8s.io "" is invalid: fieldManager:
  Required value: is required for apply patch` (`ValidatePatchOptions`), before the object
  is looked up; `force` on any other patch is a 422 too;
- the body is YAML (JSON is YAML); one that does not parse is a 400 `error decoding YAML`;
  it must name the resource's apiVersion and kind and carry no `metadata.managedFields`
  (400 each), and its name must be the URL's;
- an object that does not exist is created (201), else the configuration is merged in (200);
  the result goes through the same decoding, defaults and validation as any write, and
  `dryRun=All` answers what would be stored without storing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from gitops_lifecycle.simulation.kubeapi import admission, conversion, errors, fieldmanager, schema
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType
from gitops_lifecycle.simulation.kubeapi.store import Obj

if TYPE_CHECKING:
    from gitops_lifecycle.simulation.kubeapi.registry import Registry

MEDIA_TYPE = "application/apply-patch+yaml"


def check_options(*, apply: bool, field_manager: str | None, force: str | None) -> None:
    """`ValidatePatchOptions`: fieldManager for an apply, no `force` for other patches."""
    if apply and not field_manager:
        raise errors.invalid_causes("PatchOptions", "meta.k8s.io", "", [errors.cause(
            "FieldValueRequired", "Required value: is required for apply patch",
            "fieldManager")])
    if not apply and force is not None:
        raise errors.invalid_causes("PatchOptions", "meta.k8s.io", "", [errors.cause(
            "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch",
            "force")])


@dataclass(frozen=True)
class Apply:
    """One apply request."""

    rt: ResourceType
    namespace: str | None
    name: str
    manager: str
    force: bool = False
    dry_run: bool = False
    field_validation: str = "Warn"
    subresource: str | None = None


def parse(raw: bytes) -> dict[str, Any]:
    """The applied configuration: a YAML (or JSON) object."""
    try:
        config = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise errors.bad_request("error decoding YAML: the configuration is not an object")
    return config


def apply(registry: Registry, request: Apply, raw: bytes) -> tuple[Obj, bool]:
    """Apply the configuration; the object and whether it was created."""
    rt = request.rt
    config = _decode(registry, rt, parse(raw), request)
    live = registry.find(rt, request.namespace, request.name)
    write = fieldmanager.Write(rt, request.manager, registry.now_stamp(), request.subresource,
                               _custom(registry, rt))
    current = conversion.view(rt, live) if live is not None else None
    merged = fieldmanager.apply(write, current, config, force=request.force)
    if live is None:
        if request.subresource is not None:
            raise errors.not_found(rt.plural, rt.group, request.name)
        created = registry.create(rt, merged, namespace=request.namespace,
                                  dry_run=request.dry_run,
                                  field_validation=request.field_validation)
        return created, True
    merged["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    replaced = registry.replace(rt, merged, namespace=request.namespace, name=request.name,
                                subresource=request.subresource, dry_run=request.dry_run,
                                field_validation=request.field_validation)
    return replaced, False


def _custom(registry: Registry, rt: ResourceType) -> dict[str, Any] | None:
    return None if rt.builtin or registry.schema_lookup is None else registry.schema_lookup(rt)


def _decode(registry: Registry, rt: ResourceType, config: dict[str, Any],
            request: Apply) -> dict[str, Any]:
    """The configuration as the server reads it: unknown fields dropped (or refused under
    `fieldValidation=Strict`), types checked, times re-written; nothing defaulted."""
    if config.get("apiVersion") != rt.api_version or config.get("kind") != rt.kind:
        raise errors.bad_request(
            f"Incorrect version specified in apply patch. Specified patch version: "
            f"{config.get('apiVersion')}, expected: {rt.api_version}"
            if config.get("kind") == rt.kind else
            f"the kind of the applied configuration ({config.get('kind')}) is not "
            f"{rt.kind}")
    meta = config.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    if meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    if meta.get("name") not in (None, request.name):
        raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not "
                                 f"match the name on the URL ({request.name})")
    config = {**config, "metadata": {**meta, "name": request.name}}
    if rt.builtin:
        definition = schema.definition_name(rt.api_version, rt.kind)
        target: dict[str, Any] | None = None if definition is None else {"$ref": definition}
        defs: dict[str, Any] | None = None
    else:
        target, defs = _custom(registry, rt), {}
    if target is None:
        return config
    decoded, findings = schema.decode(config, target, defs)
    findings.required.clear()  # a configuration names only the fields it manages
    found: list[str] = []
    schema.raise_for(findings, kind=rt.kind, group=rt.group, version=rt.version,
                     name=request.name, field_validation=request.field_validation,
                     warnings=found)
    for message in found:
        admission.warn(message)
    if "spec" not in config:
        decoded.pop("spec", None)
    return decoded
