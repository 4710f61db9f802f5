"""What a policy can decide about one object, and the checks every policy starts with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gitops_lifecycle.cleanup import annotations as marks
from gitops_lifecycle.clock import parse_time
from gitops_lifecycle.settings import CleanupSettings


@dataclass(frozen=True, slots=True)
class Delete:
    """Eligible now: the object's time ran out at `expired_at`."""

    policy: str
    expired_at: float
    why: str = "expired"


@dataclass(frozen=True, slots=True)
class Wait:
    """Not eligible yet: decide again at clock time `until` (or when the object changes)."""

    policy: str
    until: float
    reason: str = "not_expired"


@dataclass(frozen=True, slots=True)
class Skip:
    """Not eligible: decide again only when the object (or what it depends on) changes."""

    policy: str
    reason: str


Decision = Delete | Wait | Skip

EXCLUDED_NAMESPACE = "excluded_namespace"
OPTED_OUT = "opted_out"
BEING_DELETED = "being_deleted"
INVALID_ANNOTATION = "invalid_annotation"
POLICY_DISABLED = "policy_disabled"
COMMON_REASONS = (EXCLUDED_NAMESPACE, OPTED_OUT, BEING_DELETED, INVALID_ANNOTATION, POLICY_DISABLED)


class Meta(Protocol):
    """The metadata fields the common checks read."""

    @property
    def namespace(self) -> str | None: ...
    @property
    def annotations(self) -> Mapping[str, str] | None: ...


def out_of_scope(meta: Meta, settings: CleanupSettings) -> str | None:
    """The reason an object is outside every policy (namespace, opt-out), or None."""
    if not settings.namespaces.allows(meta.namespace):
        return EXCLUDED_NAMESPACE
    if marks.opted_out(meta.annotations):
        return OPTED_OUT
    return None


def expiry(meta: Meta, *, start: float, default: float) -> float:
    """When an object whose clock started at `start` expires, honouring its TTL annotation."""
    return start + marks.ttl_override(meta.annotations, default)


def timed(policy: str, *, expires: float, now: float) -> Decision:
    """Delete once `expires` has passed, otherwise wait for it."""
    if now >= expires:
        return Delete(policy, expires)
    return Wait(policy, expires)


def seconds(value: datetime | str | float | None) -> float | None:
    """Epoch seconds of a decoded timestamp (or of the API's RFC 3339 text)."""
    if value is None or isinstance(value, float | int):
        return value
    if isinstance(value, datetime):
        return value.timestamp()
    return parse_time(value)
