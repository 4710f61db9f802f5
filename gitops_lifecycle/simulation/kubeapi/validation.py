"""The kinds' validation rules, as `k8s.io/kubernetes/pkg/apis/*/validation` states them.

Each rule returns `details.causes` entries (`field.Error`: reason, message, field); the
registry answers 422 Invalid with all of them at once, as the real server does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gitops_lifecycle.simulation.kubeapi import apiextensions
from gitops_lifecycle.simulation.kubeapi.errors import cause
from gitops_lifecycle.simulation.kubeapi.fielderrors import (
    forbidden,
    invalid,
    required,
    unsupported,
)
from gitops_lifecycle.simulation.kubeapi.resources import ResourceType

Cause = dict[str, str]
Rule = Callable[[dict[str, Any], dict[str, Any] | None], list[Cause]]

# k8s.io/apimachinery/pkg/util/validation
_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_CONFIG_MAP_KEY = "[-._a-zA-Z0-9]+"

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    f"regex used for validation is '{_DNS1123_SUBDOMAIN}')")
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_DNS1123_LABEL}')")
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'abc-123', regex used for validation is '{_DNS1035_LABEL}')")
NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    f"used for validation is '{_QUALIFIED_NAME}')")
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '({_QUALIFIED_NAME})?')")


def _full(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^{pattern}$")


_SUBDOMAIN_RE, _LABEL_RE = _full(_DNS1123_SUBDOMAIN), _full(_DNS1123_LABEL)
_DNS1035_RE, _NAME_RE = _full(_DNS1035_LABEL), _full(_QUALIFIED_NAME)
_CONFIG_KEY_RE = _full(_CONFIG_MAP_KEY)


def subdomain(value: str) -> list[str]:
    """`IsDNS1123Subdomain`."""
    if len(value) > 253:
        return ["must be no more than 253 characters"]
    return [] if _SUBDOMAIN_RE.match(value) else [SUBDOMAIN_MESSAGE]


def dns_label(value: str) -> list[str]:
    """`IsDNS1123Label`."""
    if len(value) > 63:
        return ["must be no more than 63 characters"]
    return [] if _LABEL_RE.match(value) else [LABEL_MESSAGE]


def dns1035(value: str) -> list[str]:
    """`IsDNS1035Label`."""
    if len(value) > 63:
        return ["must be no more than 63 characters"]
    return [] if _DNS1035_RE.match(value) else [DNS1035_MESSAGE]


def qualified_name(value: str) -> list[str]:
    """`IsQualifiedName`: an optional DNS subdomain prefix and a name part."""
    prefix, slash, name = value.rpartition("/")
    messages: list[str] = []
    if slash:
        if not prefix:
            messages.append("prefix part must be non-empty")
        else:
            messages += [f"prefix part {m}" for m in subdomain(prefix)]
    if not name:
        messages.append("name part must be non-empty")
    elif len(name) > 63:
        messages.append("name part must be no more than 63 characters")
    elif not _NAME_RE.match(name):
        messages.append(NAME_PART_MESSAGE)
    return messages


def label_value(value: str) -> list[str]:
    """`IsValidLabelValue`."""
    if len(value) > 63:
        return ["must be no more than 63 characters"]
    return [] if not value or _NAME_RE.match(value) else [LABEL_VALUE_MESSAGE]


# -- metadata --------------------------------------------------------------------------------

_NAME_RULE: dict[tuple[str, str], Callable[[str], list[str]]] = {
    ("", "Namespace"): dns_label,
    ("", "Service"): dns1035,
}


def _metadata(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    name = meta.get("name") or ""
    check = _NAME_RULE.get((rt.group, rt.kind), subdomain)
    if name and not (rt.kind == "Event" and not rt.group):  # legacy Events: any name
        causes += [invalid("metadata.name", name, m) for m in check(name)]
    for key, value in (meta.get("labels") or {}).items():
        causes += [invalid("metadata.labels", key, m) for m in qualified_name(key)]
        if isinstance(value, str):
            causes += [invalid("metadata.labels", value, m) for m in label_value(value)]
    for key in meta.get("annotations") or {}:
        causes += [invalid("metadata.annotations", key, m.lower() if m[0].isupper() else m)
                   for m in qualified_name(key.lower())]
    for index, ref in enumerate(meta.get("ownerReferences") or ()):
        for part in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(part):
                causes.append(invalid(f"metadata.ownerReferences[{index}].{part}", "",
                                      f"{part} must not be empty"))
    return causes


# -- kinds -----------------------------------------------------------------------------------


def _lease(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """pkg/apis/coordination/validation: ValidateLeaseSpec."""
    del old
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions,
                              "must be greater than or equal to 0"))
    return causes


def _immutable_data(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateConfigMapUpdate / ValidateSecretUpdate: `immutable: true` freezes the data."""
    causes: list[Cause] = []
    if old is not None and old.get("immutable"):
        if not obj.get("immutable"):
            causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        causes += [forbidden(part, "field is immutable when `immutable` is set")
                   for part in ("data", "binaryData", "stringData")
                   if (obj.get(part) or {}) != (old.get(part) or {})]
        if obj.get("type", "Opaque") != old.get("type", "Opaque") and "type" in old:
            causes.append(invalid("type", obj.get("type"), "field is immutable"))
    return causes


def _config_map(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = [invalid(part, key, "a valid config key must consist of alphanumeric "
                      "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                      f"'key-name', regex used for validation is '{_CONFIG_MAP_KEY}')")
              for part in ("data", "binaryData") for key in obj.get(part) or {}
              if not _CONFIG_KEY_RE.match(key)]
    return causes + _immutable_data(obj, old)


def _containers(spec: dict[str, Any], path: str) -> list[Cause]:
    """ValidatePodSpec, the parts a simulated kubelet depends on."""
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not containers:
        return causes if "containers" not in spec else [required(f"{path}.containers")]
    names = set()
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        name = container.get("name") or ""
        if name:
            causes += [invalid(f"{where}.name", name, m) for m in dns_label(name)]
            if name in names:
                causes.append(cause("FieldValueDuplicate", f"Duplicate value: {json.dumps(name)}",
                                    f"{where}.name"))
            names.add(name)
        if not container.get("image"):
            causes.append(required(f"{where}.image"))
        causes += _ports(container.get("ports") or [], f"{where}.ports")
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        causes.append(unsupported(f"{path}.restartPolicy", policy,
                                  ["Always", "OnFailure", "Never"]))
    return causes


def _ports(ports: list[dict[str, Any]], path: str) -> list[Cause]:
    """validateContainerPorts: containerPort required and, like a non-zero hostPort, a port
    number (IsValidPortNum)."""
    causes: list[Cause] = []
    for index, port in enumerate(ports):
        where = f"{path}[{index}]"
        number = port.get("containerPort") or 0
        if number == 0:
            causes.append(required(f"{where}.containerPort"))
        elif not 1 <= number <= 65535:
            causes.append(invalid(f"{where}.containerPort", number, PORT_RANGE))
        host = port.get("hostPort") or 0
        if host != 0 and not 1 <= host <= 65535:
            causes.append(invalid(f"{where}.hostPort", host, PORT_RANGE))
    return causes


PORT_RANGE = "must be between 1 and 65535, inclusive"


def _pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    del old
    return _containers(obj.get("spec") or {}, "spec")


def _selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if (operator == "In" and labels.get(key) not in values) or \
                (operator == "NotIn" and present and labels.get(key) in values) or \
                (operator == "Exists" and not present) or \
                (operator == "DoesNotExist" and present):
            return False
    return True


def _workload(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateDeploymentSpec and its siblings: the selector selects the template."""
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if isinstance(selector, dict):
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(invalid("spec.selector", selector, "empty selector is invalid for "
                                  "deployment"))
        elif "template" in spec and not _selector_matches(selector, labels):
            causes.append(invalid("spec.template.metadata.labels", labels,
                                  "`selector` does not match template `labels`"))
    if "template" in spec:
        causes += _containers(template.get("spec") or {}, "spec.template.spec")
        if not (template.get("spec") or {}).get("containers"):
            causes.append(required("spec.template.spec.containers"))
    replicas = spec.get("replicas")
    if replicas is not None and replicas < 0:
        causes.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        causes.append(invalid("spec.selector", selector, "field is immutable"))
    return causes


def _job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateJobSpec: a Job's pods restart OnFailure or Never."""
    del old
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    causes = _containers(pod_spec, "spec.template.spec")
    if "containers" not in pod_spec:
        causes.append(required("spec.template.spec.containers"))
    policy = pod_spec.get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        causes.append(required("spec.template.spec.restartPolicy",
                               'valid values: "OnFailure", "Never"') if policy in (None, "")
                      else unsupported("spec.template.spec.restartPolicy", policy,
                                       ["OnFailure", "Never"]))
    for part in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
        value = spec.get(part)
        if value is not None and value < 0:
            causes.append(invalid(f"spec.{part}", value, "must be greater than or equal to 0"))
    return causes


def _event(obj: dict[str, Any], strict: bool) -> list[Cause]:
    """pkg/apis/core/validation/events.go: legacyValidateEvent, then the strict rules."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    involved_ns = (obj.get("involvedObject") or {}).get("namespace") or ""
    causes: list[Cause] = []
    if not obj.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or \
                (involved_ns and involved_ns != namespace):
            causes.append(invalid("involvedObject.namespace", involved_ns,
                                  "does not match event.namespace"))
    else:
        causes += _new_event(obj, strict)
    if strict:
        if not obj.get("eventTime"):
            causes.append(required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            causes.append(invalid("type", "", f"has invalid value: {obj.get('type', '')}"))
    return causes


def _new_event(obj: dict[str, Any], strict: bool) -> list[Cause]:
    """legacyValidateEvent for an Event with an eventTime (written the new way)."""
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    involved_ns = (obj.get("involvedObject") or {}).get("namespace") or ""
    reporting = "reportingController" if strict else "reportingComponent"
    causes: list[Cause] = []
    if not involved_ns and namespace not in ("default", "kube-system"):
        causes.append(invalid("involvedObject.namespace", involved_ns,
                              "does not match event.namespace"))
    if not obj.get("reportingComponent"):
        causes.append(required(reporting))
    else:
        causes += [invalid(reporting, obj["reportingComponent"], m)
                   for m in qualified_name(obj["reportingComponent"])]
    if not obj.get("reportingInstance"):
        causes.append(required("reportingInstance"))
    if not obj.get("action"):
        causes.append(required("action"))
    if not obj.get("reason"):
        causes.append(required("reason"))
    return causes


_RULES: dict[tuple[str, str], Rule] = {
    ("coordination.k8s.io", "Lease"): _lease,
    ("", "ConfigMap"): _config_map,
    ("", "Secret"): _immutable_data,
    ("", "Pod"): _pod,
    ("apps", "Deployment"): _workload,
    ("apps", "ReplicaSet"): _workload,
    ("apps", "StatefulSet"): _workload,
    ("apps", "DaemonSet"): _workload,
    ("batch", "Job"): _job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): apiextensions.validate,
}


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """Every cause for refusing `obj` (the new version of `old`, if an update)."""
    causes = _metadata(rt, obj)
    if rt.kind == "Event" and rt.group in ("", "events.k8s.io"):
        return causes + _event(obj, strict=bool(rt.group))
    rule = _RULES.get((rt.group, rt.kind))
    if rule is not None:
        causes += rule(obj, old)
    return causes

