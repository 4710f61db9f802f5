"""Objects against the upstream Kubernetes schemas: decoding, unknown fields, required fields.

The real API server decodes a request body into the Go type of its kind. What that does is
what this module does, driven by the OpenAPI definitions of the release it reports
(`schemas.json.gz`, written by `scripts/kube_schemas.py` from `kubernetes-validate`):

- a value of the wrong JSON type, a time that does not parse or `byte` data that is not
  base64 cannot be decoded: 400 BadRequest (`... cannot be handled as a Job: ...`);
- fields the type does not have are dropped, and reported by `fieldValidation`
  (`Strict`: 400 `strict decoding error: unknown field "spec.foo"`; `Warn`, the default: a
  `Warning` header; `Ignore`: nothing) — apimachinery's `runtime.NewStrictDecodingError`;
- `metav1.Time` is written back as `2006-01-02T15:04:05Z`, `metav1.MicroTime` with six
  fractional digits, whatever offset or precision the client sent;
- a field the type requires (its `required` list, outside `status`) that is missing is a
  422 `Required value` cause, as `field.Required` answers in the API's validation.

Custom resources use the same walk over their CRD's `openAPIV3Schema`, with the rules of a
structural schema (k8s.io/apiextensions-apiserver `pkg/apiserver/schema`, and the value
validation of `pkg/apiserver/validation`): `default`s are filled in, unknown fields are
pruned unless `x-kubernetes-preserve-unknown-fields`, and a value of the wrong type, outside
its `enum`, `pattern`, `minimum`/`maximum`, `minLength`/`maxLength` or `minItems`/`maxItems`
is a 422 cause naming the field (`field.TypeInvalid`, `NotSupported`, `Invalid`, `TooLong`,
`TooMany`). Strings are kept as sent (a `date-time` is checked, not re-written).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import gzip
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from gitops_lifecycle.simulation.kubeapi import errors

TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
# `required` in the published schema that the API's validation does not enforce (the Go
# decoder fills a zero value and the kind's validation judges it): core/v1 Event.
_NOT_ENFORCED = frozenset({("io.k8s.api.core.v1.Event", "involvedObject"),
                           ("io.k8s.api.core.v1.Event", "metadata")})
_SCALARS = {
    "int-or-string": lambda v: isinstance(v, (str, int)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}
_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
               dict: "object"}


@functools.cache
def document() -> dict[str, Any]:
    """The schema file: `release`, `roots` (the served kinds) and `definitions`."""
    raw = (resources.files(__package__) / "schemas.json.gz").read_bytes()
    loaded: dict[str, Any] = json.loads(gzip.decompress(raw))
    return loaded


def definitions() -> dict[str, Any]:
    """Every definition by its OpenAPI name (`io.k8s.api.batch.v1.Job`)."""
    defs: dict[str, Any] = document()["definitions"]
    return defs


@functools.cache
def _roots() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name in document()["roots"]:
        for gvk in definitions()[name].get("x-kubernetes-group-version-kind") or ():
            group = gvk.get("group", "")
            api_version = f"{group}/{gvk['version']}" if group else gvk["version"]
            found.setdefault((api_version, gvk["kind"]), name)
    return found


def definition_name(api_version: str, kind: str) -> str | None:
    """The definition of a built-in kind, or None (custom resources, unknown kinds)."""
    return _roots().get((api_version, kind))


@dataclass
class Findings:
    """What decoding an object found, by field path."""

    unknown: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    invalid: list[tuple[str, Any, str]] = field(default_factory=list)  # path, value, message
    violations: list[tuple[str, str, str]] = field(default_factory=list)  # path, reason, text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _format_time(moment: datetime, micro: bool) -> str:
    moment = moment.astimezone(UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None or "T" not in text.upper():
        return None
    return moment


class Walker:
    """Decodes one object against a schema, collecting `Findings`."""

    def __init__(self, defs: dict[str, Any], findings: Findings, *,
                 structural: bool = False) -> None:
        self.defs = defs
        self.findings = findings
        self.structural = structural  # a CRD's schema: defaults, value validation

    def resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.defs[ref], ref
        return schema, ""

    def walk(self, value: Any, schema: dict[str, Any], path: str, *,
             in_status: bool = False) -> Any:
        schema, name = self.resolve(schema)
        if name in (TIME, MICRO_TIME):
            return self._time(value, path, micro=name == MICRO_TIME)
        if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
            return value
        kind = schema.get("type")
        if schema.get("x-kubernetes-int-or-string"):
            kind = "int-or-string"
        elif kind is None and ("properties" in schema or "additionalProperties" in schema):
            kind = "object"
        if kind == "object":
            return self._object(value, schema, name, path, in_status=in_status)
        if kind == "array":
            return self._array(value, schema, path, in_status=in_status)
        if kind == "string":
            return self._string(value, schema, path)
        return self._scalar(value, str(kind), schema, path)

    def _array(self, value: Any, schema: dict[str, Any], path: str, *, in_status: bool) -> Any:
        if not isinstance(value, list):
            return self._malformed(value, path, "array")
        if self.structural:
            self._bounds(len(value), schema, path, value, items=True)
        items = schema.get("items") or {}
        return [self.walk(item, items, f"{path}[{index}]", in_status=in_status)
                for index, item in enumerate(value)]

    def _scalar(self, value: Any, kind: str, schema: dict[str, Any], path: str) -> Any:
        accepts = _SCALARS.get(kind)
        if accepts is None or accepts(value):
            if self.structural and kind in ("integer", "number"):
                self._bounds(value, schema, path, value)
            if self.structural and kind != "int-or-string":
                self._enum(value, schema, path)
            return value
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        return self._malformed(value, path,
                               kind if self.structural else schema.get("format") or kind)

    def _object(self, value: Any, schema: dict[str, Any], name: str, path: str, *,
                in_status: bool) -> Any:
        if not isinstance(value, dict):
            return self._malformed(value, path, "object")
        properties: dict[str, Any] | None = schema.get("properties")
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        if properties is None and not isinstance(extra, dict):
            return value
        out: dict[str, Any] = {}
        if self.structural and properties:
            value = _defaulted(value, properties)
        for key, item in value.items():
            sub = _join(path, key)
            if item is None:
                continue  # `null` decodes to the zero value, which is omitted
            if properties is not None and key in properties:
                out[key] = self.walk(item, properties[key], sub,
                                     in_status=in_status or (not path and key == "status"))
            elif isinstance(extra, dict) or preserve or extra is True:
                out[key] = self.walk(item, extra, sub, in_status=in_status) if \
                    isinstance(extra, dict) else item
            else:
                self.findings.unknown.append(sub)
        if not in_status:
            self._required(out, schema, name, path)
        return out

    def _required(self, out: dict[str, Any], schema: dict[str, Any], name: str,
                  path: str) -> None:
        for key in schema.get("required") or ():
            if key not in out and (name, key) not in _NOT_ENFORCED:
                self.findings.required.append(_join(path, key))

    def _string(self, value: Any, schema: dict[str, Any], path: str) -> Any:
        if not isinstance(value, str):
            return self._malformed(value, path, "string")
        if self.structural:
            return self._custom_string(value, schema, path)
        if schema.get("format") == "byte":
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                offset = next((i for i, c in enumerate(value)
                               if not (c.isalnum() or c in "+/=")), len(value) // 4 * 4)
                self.findings.malformed.append(f"illegal base64 data at input byte {offset}")
                return value
        if schema.get("format") == "date-time":
            return self._time(value, path, micro=False)
        enum = schema.get("enum")
        if enum and value not in enum and path.count(".") > 0:
            self.findings.invalid.append((path, value, "Unsupported value: " + json.dumps(
                value) + ": supported values: " + ", ".join(json.dumps(e) for e in enum)))
        return value

    def _time(self, value: Any, path: str, *, micro: bool) -> Any:
        if not isinstance(value, str):
            return self._malformed(value, path, "Time")
        moment = _parse_time(value)
        if moment is None:
            layout = "2006-01-02T15:04:05.000000Z07:00" if micro else "2006-01-02T15:04:05Z07:00"
            self.findings.malformed.append(
                f'parsing time "{value}" as "{layout}": cannot parse "{value}" as "2006"')
            return value
        return _format_time(moment, micro)

    def _custom_string(self, value: str, schema: dict[str, Any], path: str) -> str:
        """A string of a custom resource: kept as sent, checked against its schema."""
        self._bounds(len(value), schema, path, value, length=True)
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not re.search(pattern, value):
            self._violation(path, value, f"should match '{pattern}'")
        if schema.get("format") == "date-time" and _parse_time(value) is None:
            self._violation(path, value, f"must be of type date-time: {json.dumps(value)}")
        self._enum(value, schema, path)
        return value

    def _enum(self, value: Any, schema: dict[str, Any], path: str) -> None:
        enum = schema.get("enum")
        if enum and value not in enum:
            supported = ", ".join(json.dumps(e) for e in enum)
            self._add(path, "FieldValueNotSupported",
                      f"Unsupported value: {json.dumps(value)}: supported values: {supported}")

    def _bounds(self, size: float, schema: dict[str, Any], path: str,  # noqa: PLR0913
                value: Any, *, length: bool = False, items: bool = False) -> None:
        """minimum/maximum, minLength/maxLength or minItems/maxItems, as kube-openapi's
        validator words them."""
        low, high = ("minLength", "maxLength") if length else \
            ("minItems", "maxItems") if items else ("minimum", "maximum")
        most, least = schema.get(high), schema.get(low)
        if most is not None and size > most:
            if length:
                self._add(path, "FieldValueTooLong", f"Too long: may not be more than {most} "
                          "bytes")
            elif items:
                self._add(path, "FieldValueTooMany",
                          f"Too many: {size}: must have at most {most} items")
            else:
                self._violation(path, value, f"should be less than or equal to {most}")
        if least is not None and size < least:
            self._violation(path, value, f"should be at least {least} chars long" if length
                            else f"should have at least {least} items" if items
                            else f"should be greater than or equal to {least}")

    def _violation(self, path: str, value: Any, detail: str) -> None:
        self._add(path, "FieldValueInvalid", f"Invalid value: {_shown(value)}: {path} in body "
                  f"{detail}")

    def _add(self, path: str, reason: str, message: str) -> None:
        self.findings.violations.append((path, reason, message))

    def _malformed(self, value: Any, path: str, expected: str) -> Any:
        if self.structural:
            wanted = _OPENAPI_TYPES.get(expected, expected)
            self._add(path, "FieldValueTypeInvalid", f"Invalid value: {_shown(value)}: {path} "
                      f"in body must be of type {wanted}: {_shown(value)}")
            return value
        got = _JSON_TYPES.get(type(value), "value")
        self.findings.malformed.append(
            f"json: cannot unmarshal {got} into Go struct field .{path} of type {expected}")
        return value


def _defaulted(value: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """An object with the `default` of each property it lacks (or has as null)."""
    value = dict(value)
    for key, prop in properties.items():
        if isinstance(prop, dict) and "default" in prop and value.get(key) is None:
            value[key] = copy.deepcopy(prop["default"])
    return value


def _shown(value: Any) -> str:
    """A value as Go's `%#v` shows it in a cause (`"text"`, `3`, `[]interface {}{...}`)."""
    if isinstance(value, dict):
        return "map[string]interface {}{...}"
    if isinstance(value, list):
        return "[]interface {}{...}"
    return json.dumps(value)


_OPENAPI_TYPES = {"bool": "boolean", "Time": "string"}


def decode(obj: dict[str, Any], schema: dict[str, Any],
           defs: dict[str, Any] | None = None, *,
           structural: bool = False) -> tuple[dict[str, Any], Findings]:
    """The object as the server keeps it (unknown fields dropped, times re-written; with
    `structural`, a CRD's schema: defaults filled in and values validated)."""
    findings = Findings()
    walker = Walker(definitions() if defs is None else defs, findings, structural=structural)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    resolved, _ = walker.resolve(schema)
    if structural and resolved.get("properties") is not None:
        # every custom resource has ObjectMeta, whatever its schema says (validated apart)
        resolved = {**resolved, "properties": {**resolved["properties"],
                                               "metadata": {"type": "object"}}}
        schema = resolved
    spec_schema = (resolved.get("properties") or {}).get("spec")
    if spec_schema is not None and "spec" not in body and _has_required(walker, spec_schema):
        body["spec"] = {}  # a missing spec decodes as an empty one, and is judged as such
    out = walker.walk(body, schema, "")
    head = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
    return {**head, **out}, findings


def _has_required(walker: Walker, schema: dict[str, Any]) -> bool:
    resolved, _ = walker.resolve(schema)
    return bool(resolved.get("required"))


def raise_for(  # noqa: PLR0913 -- what the answer names
    findings: Findings, *, kind: str, group: str, version: str, name: str,
    field_validation: str, warnings: list[str],
) -> None:
    """Answer what the findings mean: 400 undecodable or strict, 422 invalid, or warn."""
    if findings.malformed:
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a '
                                 f"{kind}: {findings.malformed[0]}")
    if findings.unknown:
        if field_validation == "Strict":
            raise errors.bad_request("strict decoding error: " + ", ".join(
                f'unknown field "{path}"' for path in findings.unknown))
        if field_validation != "Ignore":
            warnings.extend(f'unknown field "{path}"' for path in findings.unknown)
    causes = [errors.cause("FieldValueRequired", "Required value", path)
              for path in findings.required]
    causes += [errors.cause("FieldValueNotSupported", message, path)
               for path, _, message in findings.invalid]
    causes += [errors.cause(reason, message, path)
               for path, reason, message in findings.violations]
    if causes:
        raise errors.invalid_causes(kind, group, name, causes)
