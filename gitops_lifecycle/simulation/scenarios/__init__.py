"""Scenarios shipped with the package, found by name (`simulate --scenario demo`)."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def bundled() -> list[str]:
    """The names of the shipped scenarios."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def find(name_or_path: str) -> Traversable | Path:
    """A shipped scenario by name, or else the file at that path."""
    shipped = resources.files(__name__) / f"{name_or_path}.yaml"
    return shipped if shipped.is_file() else Path(name_or_path)
