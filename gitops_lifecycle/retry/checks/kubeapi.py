"""What the Kubernetes checks share: arguments, a client per attempt, errors by retryability.

The client (`gitops_lifecycle.kube`) is imported inside the attempt, so only these checks pay
for it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.retry.engine import describe
from gitops_lifecycle.retry.errors import NotReady, NotRetryable

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator

    from gitops_lifecycle.kube.client import Kube
    from gitops_lifecycle.kube.resources import Resource
    from gitops_lifecycle.settings import KubernetesSettings

SERVICE = "kubernetes"
Object = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--kubeconfig` and `--context` (default: in-cluster, then KUBECONFIG)."""
    from pathlib import Path

    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster)")
    parser.add_argument("--context", help="kubeconfig context")


def split_reference(text: str) -> tuple[str, str]:
    """`NAMESPACE/NAME` as a pair."""
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise NotRetryable(f"{text!r} is not NAMESPACE/NAME")
    return namespace, name


@contextlib.asynccontextmanager
async def connected(settings: KubernetesSettings) -> AsyncIterator[Kube]:
    """A client for one attempt; its failures arrive as NotReady or NotRetryable."""
    from gitops_lifecycle.kube.client import Kube
    from gitops_lifecycle.kube.errors import KubeError

    try:
        async with Kube.from_settings(settings, component="wait") as kube:
            yield kube
    except KubeError as exc:
        raise classify(exc) from exc


def classify(exc: Exception) -> NotReady | NotRetryable:
    """401 and a broken configuration cannot pass later; anything else may (RBAC may lag)."""
    from gitops_lifecycle.kube.errors import ConfigurationError, UnauthorizedError

    if isinstance(exc, UnauthorizedError | ConfigurationError):
        return NotRetryable(describe(exc))
    return NotReady(describe(exc))


async def get(kube: Kube, resource: Resource, name: str, namespace: str) -> Object | None:
    """The object as raw JSON, or None when it does not exist."""
    from gitops_lifecycle.kube.errors import NotFoundError

    try:
        found: Object = await kube.get(resource, name, record=dict, namespace=namespace)
    except NotFoundError:
        return None
    return found


def condition(obj: Object, kind: str) -> Object | None:
    """The status condition of type `kind` that is current for the object's generation."""
    generation = obj.get("metadata", {}).get("generation")
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") != kind:
            continue
        observed = cond.get("observedGeneration")
        if generation is not None and observed is not None and observed < generation:
            return None  # written for an older spec: says nothing about this one
        return dict(cond)
    return None
