"""A kubeconfig pointing at the simulated cluster, for kubernetes-asyncio and kubectl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONTEXT = "simulated"


def kubeconfig(url: str, *, namespace: str = "default") -> dict[str, Any]:
    """The kubeconfig document (plain HTTP on 127.0.0.1, no credentials)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT,
                                                    "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write(path: Path | str, url: str) -> Path:
    """Write the kubeconfig to `path` (readable only by its owner) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(url), sort_keys=False))
    target.chmod(0o600)
    return target
