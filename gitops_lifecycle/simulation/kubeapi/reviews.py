"""Who am I and may I: SelfSubjectReview and SelfSubjectAccessReview.

The simulated cluster has one user, the kubeconfig's cluster admin, who may do everything
(authorization.k8s.io/v1 SelfSubjectAccessReview; authentication.k8s.io/v1
SelfSubjectReview): what `kubectl auth can-i` and `kubectl auth whoami` ask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

USER = {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins",
                                                    "system:authenticated"]}


def _access(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": body.get("metadata") or {},
            "status": {"allowed": True, "reason": "the simulated cluster's admin may do "
                       "anything"}}


def _whoami(body: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
            "metadata": body.get("metadata") or {}, "status": {"userInfo": USER}}


_REVIEWS: dict[tuple[str, str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews"): _access,
    ("authentication.k8s.io", "v1", "selfsubjectreviews"): _whoami,
}


def answer(group: str, version: str, tail: str) -> \
        Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The review a POST to `/apis/<group>/<version>/<tail>` asks for, if it is one."""
    return _REVIEWS.get((group, version, tail.strip("/")))
