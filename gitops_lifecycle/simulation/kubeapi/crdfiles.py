"""The CustomResourceDefinition files a simulated cluster loads, as an operator's install would.

The project's own (ProxyConfig) is the file the chart ships (`gitops_lifecycle/crds/`); the
kinds of other projects that the chart or `wait` use (ExternalSecret, ServiceMonitor,
PrometheusRule) are files beside this module (`crds/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from gitops_lifecycle import crds as project_crds

DIRECTORY = Path(__file__).parent / "crds"
PROJECT: tuple[Path, ...] = (project_crds.PROXYCONFIGS,)
THIRD_PARTY: tuple[Path, ...] = tuple(sorted(DIRECTORY.glob("*.yaml")))
BUNDLED: tuple[Path, ...] = PROJECT + THIRD_PARTY

Source = Path | str | dict[str, Any]


def documents(sources: Iterable[Source]) -> Iterator[dict[str, Any]]:
    """The CRD objects of files (every YAML document in each), or objects given as such."""
    for source in sources:
        if isinstance(source, dict):
            yield source
            continue
        for doc in yaml.safe_load_all(Path(source).read_text(encoding="utf-8")):
            if not doc:
                continue
            if doc.get("kind") != "CustomResourceDefinition":
                raise ValueError(f"{source}: a {doc.get('kind')}, not a "
                                 "CustomResourceDefinition")
            yield doc
