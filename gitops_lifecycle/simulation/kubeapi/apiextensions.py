"""CustomResourceDefinitions: what a CRD object serves, whether it is valid, and its status.

After k8s.io/apiextensions-apiserver: `pkg/apis/apiextensions/validation` (what a CRD must
say), `pkg/controller/status/naming_controller.go` (`acceptedNames`, the `NamesAccepted`
and `Established` conditions) and `pkg/apiserver/customresource_handler.go` (one served
resource per served version, every version in one storage).
"""

from __future__ import annotations

import re
from typing import Any

from gitops_lifecycle.simulation.kubeapi.errors import cause
from gitops_lifecycle.simulation.kubeapi.fielderrors import invalid, required, unsupported
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Obj = dict[str, Any]


def version_priority(name: str) -> tuple[int, int, int, str]:
    """A sort key putting versions in the order discovery prefers them (`v1` before
    `v1beta2` before `v1beta1` before `v1alpha1` before `foo`): apimachinery's
    `version.CompareKubeAwareVersionStrings`."""
    match = _VERSION.match(name)
    if match is None:
        return (3, 0, 0, name)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), name)


def names(crd: Obj) -> Obj:
    """`spec.names` with the server's defaults: singular and listKind."""
    given = dict((crd.get("spec") or {}).get("names") or {})
    kind = str(given.get("kind") or "")
    given.setdefault("singular", kind.lower())
    given.setdefault("listKind", f"{kind}List")
    return given


def _served_versions(crd: Obj) -> list[Obj]:
    versions = [v for v in (crd.get("spec") or {}).get("versions") or () if v.get("served")]
    return sorted(versions, key=lambda v: version_priority(str(v.get("name"))))


def storage_version(crd: Obj) -> str:
    """The version objects are stored in."""
    for version in (crd.get("spec") or {}).get("versions") or ():
        if version.get("storage"):
            return str(version.get("name"))
    return ""


def resource_types(crd: Obj) -> list[ResourceType]:
    """What an established CRD serves: one resource per served version, best version first."""
    spec = crd.get("spec") or {}
    accepted = names(crd)
    group = str(spec.get("group") or "")
    found = []
    for version in _served_versions(crd):
        subresources = version.get("subresources") or {}
        found.append(ResourceType(
            group, str(version["name"]), str(accepted["plural"]), str(accepted["kind"]),
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(accepted.get("shortNames") or ()),
            status="status" in subresources, builtin=False,
            categories=tuple(accepted.get("categories") or ()),
            crd=str(crd["metadata"]["name"]),
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            columns=tuple(version.get("additionalPrinterColumns") or ()),
            scale=subresources.get("scale"),
        ))
    return found


# -- validation (ValidateCustomResourceDefinition) -------------------------------------------


def validate(crd: Obj, old: Obj | None) -> list[dict[str, str]]:
    """The causes of a 422 for this CRD (empty when valid)."""
    spec = crd.get("spec") or {}
    group = str(spec.get("group") or "")
    given = (spec.get("names") or {})
    plural, kind = str(given.get("plural") or ""), str(given.get("kind") or "")
    causes: list[dict[str, str]] = []
    name = str((crd.get("metadata") or {}).get("name") or "")
    if plural and group and name != f"{plural}.{group}":
        causes.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        causes.append(required("spec.group"))
    elif "." not in group:
        causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(unsupported("spec.scope", spec.get("scope", ""), ["Cluster", "Namespaced"]))
    if not plural:
        causes.append(required("spec.names.plural"))
    elif not _DNS_LABEL.match(plural):
        causes.append(invalid("spec.names.plural", plural, "a lowercase RFC 1123 label "
                              "must consist of lower case alphanumeric characters or '-', "
                              "and must start and end with an alphanumeric character"))
    if not kind:
        causes.append(required("spec.names.kind"))
    causes += _versions(spec.get("versions") or [])
    if old is not None:
        before = old.get("spec") or {}
        if spec.get("group") != before.get("group"):
            causes.append(invalid("spec.group", spec.get("group"), "field is immutable"))
    return causes


def _versions(versions: list[Obj]) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    if not versions:
        return [required("spec.versions")]
    storage = [v for v in versions if v.get("storage")]
    if len(storage) != 1:
        causes.append(cause("FieldValueInvalid", "Invalid value: must have exactly one "
                            "version marked as storage version", "spec.versions"))
    seen: set[str] = set()
    for index, version in enumerate(versions):
        where = f"spec.versions[{index}]"
        name = str(version.get("name") or "")
        if name in seen:
            causes.append(cause("FieldValueDuplicate", f'Duplicate value: "{name}"',
                                f"{where}.name"))
        seen.add(name)
        if not (version.get("schema") or {}).get("openAPIV3Schema"):
            causes.append(required(f"{where}.schema.openAPIV3Schema", "schemas are required"))
        elif (version["schema"]["openAPIV3Schema"].get("type")) != "object":
            causes.append(invalid(f"{where}.schema.openAPIV3Schema.type",
                                  version["schema"]["openAPIV3Schema"].get("type", ""),
                                  "must be object at the root"))
    if not any(v.get("served") for v in versions):
        causes.append(cause("FieldValueInvalid", "Invalid value: must have at least one "
                            "served version", "spec.versions"))
    return causes


# -- status (the naming and establishing controllers) ----------------------------------------


def _conditions(wanted: list[tuple[str, str, str, str]], now: str,
                before: list[Obj]) -> list[Obj]:
    """Conditions (type, status, reason, message), keeping the transition time of those
    whose status did not change."""
    found = []
    for kind, state, reason, message in wanted:
        previous = next((c for c in before if c.get("type") == kind), None)
        since = previous["lastTransitionTime"] if previous and \
            previous.get("status") == state and previous.get("lastTransitionTime") else now
        found.append({"type": kind, "status": state, "lastTransitionTime": since,
                      "reason": reason, "message": message})
    return found


def status(crd: Obj, conflict: str | None, now: str, *, terminating: bool = False) -> Obj:
    """The CRD's status: accepted names, `NamesAccepted`, `Established`, stored versions.

    `conflict` says which name another CRD of the group already serves, if one does.
    """
    before = list((crd.get("status") or {}).get("conditions") or ())
    stored = list((crd.get("status") or {}).get("storedVersions") or ())
    version = storage_version(crd)
    if version and version not in stored:
        stored.append(version)
    if conflict:
        wanted = [("NamesAccepted", "False", "NameConflict", conflict),
                  ("Established", "False", "NotAccepted", "not all names are accepted")]
        accepted: Obj = {"plural": "", "kind": ""}
    else:
        wanted = [("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                  ("Established", "True", "InitialNamesAccepted",
                   "the initial names have been accepted")]
        accepted = names(crd)
    if terminating:
        wanted.append(("Terminating", "True", "InstanceDeletionInProgress",
                       "CustomResource deletion is in progress"))
    return {"conditions": _conditions(wanted, now, before), "acceptedNames": accepted,
            "storedVersions": stored}


def name_conflict(crd: Obj, others: list[Obj]) -> str | None:
    """Which of this CRD's names another CRD of the same group already took, if any."""
    group = (crd.get("spec") or {}).get("group")
    mine = names(crd)
    mine_short = set(mine.get("shortNames") or ())
    for other in others:
        if other["metadata"]["name"] == crd["metadata"]["name"] or \
                (other.get("spec") or {}).get("group") != group:
            continue
        theirs = names(other)
        if theirs.get("kind") == mine.get("kind"):
            return f'"{mine["kind"]}" is already in use'
        if theirs.get("listKind") == mine.get("listKind"):
            return f'"{mine["listKind"]}" is already in use'
        if theirs.get("singular") == mine.get("singular"):
            return f'"{mine["singular"]}" is already in use'
        taken = mine_short & set(theirs.get("shortNames") or ())
        if taken:
            return f'"{min(taken)}" is already in use'
    return None
