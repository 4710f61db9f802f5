"""The CustomResourceDefinitions the daemon serves, as the chart ships them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DIRECTORY = Path(__file__).parent
PROXYCONFIGS = DIRECTORY / "proxyconfigs.gitops.io.yaml"


def load(path: Path = PROXYCONFIGS) -> dict[str, Any]:
    """One CRD file as a plain object."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
