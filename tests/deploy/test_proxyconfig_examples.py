"""Example ProxyConfigs against the CRD's schema: the valid ones pass, each invalid one fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gitops_lifecycle import crds

EXAMPLES = Path(__file__).parents[2] / "deploy/examples/proxyconfigs"


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The structural schema as a server with field validation Strict applies it: objects
    with listed properties and no additionalProperties refuse unknown fields."""
    schema = dict(schema)
    if schema.get("type") == "object" and "properties" in schema and \
            "additionalProperties" not in schema and \
            not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    if "properties" in schema:
        schema["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _strict(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        schema["items"] = _strict(schema["items"])
    return schema


def _validator() -> jsonschema.Validator:
    (version,) = crds.load()["spec"]["versions"]
    schema = _strict(version["schema"]["openAPIV3Schema"])
    # metadata is validated by the API server itself, not by the CRD.
    schema["properties"]["metadata"] = {"type": "object"}
    return jsonschema.Draft7Validator(schema)


def _examples(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


@pytest.mark.parametrize("example", _examples("valid.yaml"),
                         ids=lambda e: e["metadata"]["name"])
def test_valid_example_is_accepted(example: dict[str, Any]) -> None:
    errors = [e.message for e in _validator().iter_errors(example)]
    assert errors == []


@pytest.mark.parametrize("example", _examples("invalid.yaml"),
                         ids=lambda e: e["metadata"]["name"])
def test_invalid_example_is_rejected(example: dict[str, Any]) -> None:
    errors = list(_validator().iter_errors(example))
    assert errors, example["metadata"]["annotations"]["expect"]
