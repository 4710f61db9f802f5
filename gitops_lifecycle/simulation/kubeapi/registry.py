"""The verbs of the API: create, update, patch and delete with the real server's rules.

This is where resourceVersion preconditions, generation, the status subresource, graceful
deletion, finalizers and garbage collection through ownerReferences live.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from gitops_lifecycle.clock import Clock, format_time, parse_time
from gitops_lifecycle.simulation.kubeapi import (
    admission,
    apiextensions,
    conversion,
    errors,
    fieldmanager,
    patching,
)
from gitops_lifecycle.simulation.kubeapi.catalog import BUILTIN, Catalog
from gitops_lifecycle.simulation.kubeapi.defaults import SERVICE_CIDR
from gitops_lifecycle.simulation.kubeapi.resources import CRDS, ResourceType
from gitops_lifecycle.simulation.kubeapi.store import Obj, Store, object_key

FOREGROUND = "foregroundDeletion"
_TERMINAL = frozenset({"Succeeded", "Failed"})
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "name", "namespace")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the real server's generateName uses

# PUT of a missing object creates it (the strategies' AllowCreateOnUpdate).
CREATE_ON_UPDATE = frozenset({("coordination.k8s.io", "Lease"), ("", "Event"),
                              ("events.k8s.io", "Event"), ("", "Endpoints")})
# A PUT must carry metadata.resourceVersion (AllowUnconditionalUpdate is false).
CONDITIONAL_ONLY = frozenset({("coordination.k8s.io", "Lease"),
                              ("apiextensions.k8s.io", "CustomResourceDefinition")})


@dataclass(frozen=True)
class Write:
    """Who writes through the API: the field manager its `managedFields` entry names."""

    manager: str


@dataclass(frozen=True)
class DeleteOptions:
    """The parts of `DeleteOptions` the simulated server honours."""

    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False

    @classmethod
    def parse(cls, body: dict[str, Any] | None, query: dict[str, str]) -> DeleteOptions:
        """From a DELETE's JSON body and query string (the body wins)."""
        body = body or {}
        preconditions = body.get("preconditions") or {}
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        policy = body.get("propagationPolicy", query.get("propagationPolicy"))
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if str(orphan).lower() == "true" else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.bad_request(f"unsupported propagationPolicy {policy!r}")
        dry_run = body.get("dryRun") or query.get("dryRun")
        return cls(
            grace_period_seconds=None if grace is None else int(grace),
            propagation_policy=policy,
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            dry_run=bool(dry_run),
        )


def _new_uid() -> str:
    """A random version 4 UUID (not a secret, so the faster generator will do)."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _spec_of(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _owner_uids(obj: Obj | None) -> set[str]:
    if obj is None:
        return set()
    return {ref["uid"] for ref in obj["metadata"].get("ownerReferences") or () if "uid" in ref}


def _policy(rt: ResourceType, options: DeleteOptions) -> str:
    """The propagation policy of a DELETE: the one asked for, else the resource's default."""
    return options.propagation_policy or ("Orphan" if rt.orphan_by_default else "Background")


def _marked(rt: ResourceType, current: Obj, *, grace: int, finalizers: list[str],
            requested: float) -> Obj:
    """`current` marked for deletion `grace` seconds after `requested` (not stored)."""
    meta = dict(current["metadata"])
    meta["deletionTimestamp"] = format_time(requested + grace)
    meta["deletionGracePeriodSeconds"] = grace
    if finalizers:
        meta["finalizers"] = finalizers
    if rt.generation:
        meta["generation"] = int(meta.get("generation") or 0) + 1
    return {**current, "metadata": meta}


class Registry:
    """Applies API verbs to the store with the real API server's semantics."""

    def __init__(self, *, store: Store, clock: Clock, strict_namespaces: bool = False) -> None:
        self.store = store
        self.clock = clock
        self.strict_namespaces = strict_namespaces
        self._by_uid: dict[str, tuple[str, str]] = {}
        self._dependents: dict[str, set[tuple[str, str]]] = {}
        self._terminating_namespaces: set[str] = set()
        self._last_stamp: tuple[int, str] = (-1, "")
        self.catalog = Catalog()
        self.schema_lookup: admission.SchemaLookup | None = self.catalog.schema
        self._next_ip = 9

    def _timestamp(self) -> str:
        """Now as a timestamp; formatted once per second, since bulk seeding asks often."""
        second = int(self.clock.now())
        if self._last_stamp[0] != second:
            self._last_stamp = (second, format_time(second))
        return self._last_stamp[1]

    def now_stamp(self) -> str:
        """The cluster's time as an API timestamp (what `managedFields` entries carry)."""
        return self._timestamp()

    def _allocate_ip(self) -> str:
        """The next free cluster IP of the service range (10.96.0.0/12, from .10 on)."""
        self._next_ip += 1
        return str(SERVICE_CIDR[self._next_ip])

    # -- reading ---------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        """The stored object, or 404."""
        obj = self.store.get(rt.store_key, object_key(self._ns(rt, namespace), name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def by_uid(self, uid: str) -> Obj | None:
        """The live object with this uid, if any."""
        where = self._by_uid.get(uid)
        return None if where is None else self.store.get(*where)

    def dependents(self, uid: str, store: str) -> list[Obj]:
        """The live objects of one storage that name `uid` among their owners, by key."""
        keys = sorted(key for where, key in self._dependents.get(uid, ()) if where == store)
        found = (self.store.get(store, key) for key in keys)
        return [obj for obj in found if obj is not None]

    def _ns(self, rt: ResourceType, namespace: str | None) -> str | None:
        return (namespace or "default") if rt.namespaced else None

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """The stored object, if there is one."""
        return self.store.get(rt.store_key, object_key(self._ns(rt, namespace), name))

    def _record(self, rt: ResourceType, write: Write | None, current: Obj | None, new: Obj,
                subresource: str | None = None) -> Obj:
        """`new` with the writer's managedFields entry (none for writes outside the API)."""
        if write is None:
            return new
        custom = None if rt.builtin or self.schema_lookup is None else self.schema_lookup(rt)
        fields = fieldmanager.Write(rt, write.manager, self._timestamp(), subresource, custom)
        return fieldmanager.update(
            fields, None if current is None else conversion.view(rt, current), new)

    # -- writing ---------------------------------------------------------------------------

    def _commit(self, rt: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        rv = self.store.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        meta = obj["metadata"]
        key = object_key(meta.get("namespace"), meta["name"])
        self.store.commit(rt.store_key, key, obj, rv=rv)
        self._by_uid[meta["uid"]] = (rt.store_key, key)
        self._reindex_owners(rt.store_key, key, old, obj)
        if rt is CRDS and not meta.get("deletionTimestamp"):
            self.catalog.define(obj)
        return obj

    def _reindex_owners(self, store: str, key: str, old: Obj | None, new: Obj | None) -> None:
        before, after = _owner_uids(old), _owner_uids(new)
        for uid in before - after:
            self._dependents.get(uid, set()).discard((store, key))
        for uid in after - before:
            self._dependents.setdefault(uid, set()).add((store, key))

    def create(  # noqa: PLR0913 -- the parts of a POST request
        self, rt: ResourceType, body: Obj, *, namespace: str | None = None,
        restore: bool = False, dry_run: bool = False, field_validation: str = "Warn",
        validate: bool = True, write: Write | None = None,
    ) -> Obj:
        """Create an object: uid, creationTimestamp, generation 1, 409 if the name is taken.

        With `restore`, status, creationTimestamp and a deletionTimestamp are kept as given,
        the way seeding a scenario or restoring a backup needs them.
        """
        obj = {k: v for k, v in body.items() if k not in ("kind", "apiVersion")}
        self._check_crd_live(rt)
        meta = self._named(rt, self._place(rt, dict(obj.get("metadata") or {}), namespace),
                           restore=restore)
        key = object_key(meta.get("namespace"), meta["name"])
        kept = ("deletionTimestamp", "deletionGracePeriodSeconds") if restore else ()
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion",
                      "uid", "generation"):
            if field not in kept:
                meta.pop(field, None)
        meta["uid"] = _new_uid()
        if not restore or not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = self._timestamp()
        if rt.generation:
            meta["generation"] = 1
        obj["metadata"] = meta
        if rt.status and not restore:
            obj.pop("status", None)
        if validate:
            obj = admission.admit(rt, obj, None, field_validation=field_validation,
                                  lookup=self.schema_lookup, allocate_ip=self._allocate_ip)
        obj = self._record(rt, write, None, obj)
        if self.store.get(rt.store_key, key) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        self._default_status(rt, obj)
        if rt is CRDS:
            self._crd_status(obj)
        if dry_run:
            return obj
        return self._commit(rt, obj, None)

    @staticmethod
    def _named(rt: ResourceType, meta: Obj, *, restore: bool) -> Obj:
        """A name from generateName if need be; a new object has no resourceVersion yet."""
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        if not meta.get("name"):
            raise errors.invalid(rt.kind, rt.group, "", "metadata.name",
                                 "Required value: name or generateName is required")
        version = str(meta.get("resourceVersion") or "")
        if version.isdigit() and int(version) and not restore:
            # the etcd3 store's check: only a version it can read counts (a plain error: 500)
            raise errors.ApiError(500, "InternalError", "Internal error occurred: "
                                  "resourceVersion should not be set on objects to be created")
        return meta

    def _place(self, rt: ResourceType, meta: Obj, namespace: str | None) -> Obj:
        """Settle the namespace of a new object (none for cluster-scoped kinds)."""
        if not rt.namespaced:
            meta.pop("namespace", None)
            return meta
        if namespace and meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
        meta["namespace"] = namespace or meta.get("namespace") or "default"
        self._check_namespace(meta["namespace"])
        return meta

    def _check_namespace(self, namespace: str) -> None:
        if namespace in self._terminating_namespaces:
            raise errors.ApiError(403, "Forbidden", f"unable to create new content in "
                                  f"namespace {namespace} because it is being terminated")
        if self.strict_namespaces and self.store.get("/namespaces", namespace) is None:
            raise errors.not_found("namespaces", "", namespace)

    def _check_crd_live(self, rt: ResourceType) -> None:
        """No new objects of a CRD that is being deleted (the customresource handler)."""
        crd = self.store.get(CRDS.store_key, rt.crd) if rt.crd else None
        if crd is not None and crd["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(405, "MethodNotAllowed", "create not allowed while custom "
                                  "resource definition is terminating")

    def _crd_status(self, crd: Obj) -> None:
        """What the naming and establishing controllers write to a CRD's status."""
        others = list(self.store.objects(CRDS.store_key).values())
        conflict = apiextensions.name_conflict(crd, others)
        crd["status"] = apiextensions.status(
            crd, conflict, self._timestamp(),
            terminating=bool(crd["metadata"].get("deletionTimestamp")))

    def _default_status(self, rt: ResourceType, obj: Obj) -> None:
        if rt.kind == "Pod" and not rt.group:
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif rt.kind == "Namespace":
            obj.setdefault("status", {}).setdefault("phase", "Active")

    def replace(  # noqa: PLR0913 -- the parts of a PUT request
        self, rt: ResourceType, body: Obj, *, namespace: str | None, name: str,
        subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn",
        validate: bool = True, write: Write | None = None,
    ) -> Obj:
        """PUT: 409 on a stale resourceVersion; the status subresource changes only status."""
        current = self.get(rt, namespace, name)
        new = {k: v for k, v in body.items() if k not in ("kind", "apiVersion")}
        meta = new.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on "
                f"the URL ({name})"
            )
        if not meta.get("resourceVersion") and (
                not rt.builtin or (rt.group, rt.kind) in CONDITIONAL_ONLY):
            raise errors.invalid_causes(rt.kind, rt.group, name, [errors.cause(
                "FieldValueInvalid", "Invalid value: 0x0: must be specified for an update",
                "metadata.resourceVersion")])
        self._check_preconditions(rt, current, uid=meta.get("uid"),
                                  resource_version=meta.get("resourceVersion"), stale=True)
        if subresource == "status":
            merged = {**current, "metadata": dict(current["metadata"])}
            merged.pop("status", None)
            if new.get("status") is not None:
                merged["status"] = new["status"]
        else:
            merged = dict(new)
            merged_meta = dict(meta)
            for field in _SYSTEM_FIELDS:
                merged_meta.pop(field, None)
                if field in current["metadata"]:
                    merged_meta[field] = current["metadata"][field]
            merged["metadata"] = merged_meta
            if rt.status:
                merged.pop("status", None)
                if "status" in current:
                    merged["status"] = current["status"]
        if validate:
            merged = admission.admit(rt, merged, current, field_validation=field_validation,
                                     lookup=self.schema_lookup, subresource=subresource,
                                     allocate_ip=self._allocate_ip)
        merged = self._record(rt, write, current, merged, subresource)
        return self._write(rt, current, merged, dry_run=dry_run)

    def put(  # noqa: PLR0913 -- the parts of a PUT request
        self, rt: ResourceType, body: Obj, *, namespace: str | None, name: str,
        subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn",
        write: Write | None = None,
    ) -> tuple[Obj, bool]:
        """PUT: replace, or create where the kind allows it; the object and if it is new."""
        if subresource is None and (rt.group, rt.kind) in CREATE_ON_UPDATE and \
                self.store.get(rt.store_key, object_key(self._ns(rt, namespace), name)) is None:
            meta = dict(body.get("metadata") or {})
            if meta.get("name") not in (None, name):
                raise errors.bad_request(f"the name of the object ({meta.get('name')}) does "
                                         f"not match the name on the URL ({name})")
            meta["name"] = name
            meta.pop("resourceVersion", None)
            created = self.create(rt, {**body, "metadata": meta}, namespace=namespace,
                                  dry_run=dry_run, field_validation=field_validation,
                                  write=write)
            return created, True
        replaced = self.replace(rt, body, namespace=namespace, name=name,
                                subresource=subresource, dry_run=dry_run,
                                field_validation=field_validation, write=write)
        return replaced, False

    def patch(  # noqa: PLR0913 -- the parts of a PATCH request
        self, rt: ResourceType, patch: Any, *, namespace: str | None, name: str,
        content_type: str, subresource: str | None = None, dry_run: bool = False,
        field_validation: str = "Warn", validate: bool = True, write: Write | None = None,
    ) -> Obj:
        """PATCH: the patched object goes through the same rules as an update."""
        current = conversion.view(rt, self.get(rt, namespace, name))
        if not rt.builtin and content_type.split(";", maxsplit=1)[0].strip() == patching.STRATEGIC:
            raise errors.ApiError(415, "UnsupportedMediaType", "the body of the request was in "
                                  "an unknown format - accepted media types include: "
                                  "application/json-patch+json, application/merge-patch+json, "
                                  "application/apply-patch+yaml")
        patched = patching.apply(current, patch, content_type)
        return self.replace(rt, patched, namespace=namespace, name=name,
                            subresource=subresource, dry_run=dry_run,
                            field_validation=field_validation, validate=validate, write=write)

    def _check_preconditions(
        self, rt: ResourceType, current: Obj, *, uid: str | None,
        resource_version: str | None, stale: bool = False,
    ) -> None:
        meta, name = current["metadata"], current["metadata"]["name"]
        if uid and uid != meta["uid"]:
            why = (f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                   f"{meta['uid']}")
            raise errors.conflict(rt.plural, rt.group, name, why)
        if resource_version and resource_version != meta["resourceVersion"]:
            why = ("the object has been modified; please apply your changes to the latest "
                   "version and try again") if stale else (
                f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}")
            raise errors.conflict(rt.plural, rt.group, name, why)

    def _write(self, rt: ResourceType, current: Obj, new: Obj, *, dry_run: bool = False) -> Obj:
        meta, old_meta = new["metadata"], current["metadata"]
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise errors.invalid(rt.kind, rt.group, old_meta["name"], "metadata.finalizers",
                                     "Forbidden: no new finalizers can be added if the object "
                                     "is being deleted")
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if rt.generation and _spec_of(new) != _spec_of(current):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if rt is CRDS:
            self._crd_status(new)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if new == current or dry_run:
            return current if new == current else new
        obj = self._commit(rt, new, current)
        if rt.kind != "Namespace" and self._releasable(obj):
            return self._remove(rt, obj)
        return obj

    def _releasable(self, obj: Obj) -> bool:
        meta = obj["metadata"]
        return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers") and not \
            meta.get("deletionGracePeriodSeconds")

    # -- deleting --------------------------------------------------------------------------

    def delete(
        self, rt: ResourceType, *, namespace: str | None, name: str, options: DeleteOptions,
    ) -> Obj:
        """DELETE: preconditions, graceful deletion, finalizers and propagation."""
        if options.dry_run:
            return self.dry_delete(rt, namespace=namespace, name=name, options=options)[0]
        current = self.get(rt, namespace, name)
        self._check_preconditions(rt, current, uid=options.uid,
                                  resource_version=options.resource_version)
        grace = self._grace(rt, current, options)
        if current["metadata"].get("deletionTimestamp"):
            return self._shorten(rt, current, grace)
        policy = _policy(rt, options)
        uid = current["metadata"]["uid"]
        if policy == "Orphan":
            self._orphan(uid)
        finalizers = list(current["metadata"].get("finalizers") or ())
        foreground = policy == "Foreground" and bool(self._dependents.get(uid))
        if foreground:
            finalizers.append(FOREGROUND)
        if rt.kind == "Namespace":
            return self._terminate_namespace(rt, current)
        if rt is CRDS:
            return self._terminate_crd(current, finalizers)
        if grace == 0 and not finalizers:
            return self._remove(rt, current)
        obj = self._mark_deleted(rt, current, grace=grace, finalizers=finalizers)
        if foreground:
            self._delete_dependents(uid)
        return obj

    def dry_delete(
        self, rt: ResourceType, *, namespace: str | None, name: str, options: DeleteOptions,
    ) -> tuple[Obj, bool]:
        """What a DELETE would do, changing nothing: the object as it would be (marked for
        deletion, or as it was if it would go) and whether it would go now."""
        current = self.get(rt, namespace, name)
        self._check_preconditions(rt, current, uid=options.uid,
                                  resource_version=options.resource_version)
        meta = current["metadata"]
        grace = self._grace(rt, current, options)
        finalizers = list(meta.get("finalizers") or ())
        if meta.get("deletionTimestamp"):
            requested = self._shortened_from(current, grace)
            if requested is None:
                return current, False
            if grace == 0 and not finalizers:
                return current, True
        else:
            requested = self.clock.now()
            if _policy(rt, options) == "Foreground" and self._dependents.get(meta["uid"]):
                finalizers.append(FOREGROUND)
            if rt.kind != "Namespace" and grace == 0 and not finalizers:
                return current, True
        marked = _marked(rt, current, grace=grace, finalizers=finalizers, requested=requested)
        if rt.kind == "Namespace":
            return {**marked, "status": {"phase": "Terminating"}}, False
        return marked, False

    def _grace(self, rt: ResourceType, obj: Obj, options: DeleteOptions) -> int:
        if rt.kind != "Pod" or rt.group:
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in _TERMINAL:
            return 0
        grace = options.grace_period_seconds
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds")
        return max(int(30 if grace is None else grace), 0)

    def _mark_deleted(
        self, rt: ResourceType, current: Obj, *, grace: int, finalizers: list[str],
        requested: float | None = None,
    ) -> Obj:
        requested = self.clock.now() if requested is None else requested
        marked = _marked(rt, current, grace=grace, finalizers=finalizers, requested=requested)
        return self._commit(rt, marked, current)

    def _shortened_from(self, current: Obj, grace: int) -> float | None:
        """When a second DELETE's `grace` counts from (the first request), or None if it
        would not shorten the grace period."""
        meta = current["metadata"]
        old_grace = int(meta.get("deletionGracePeriodSeconds") or 0)
        if grace >= old_grace:
            return None
        return (parse_time(meta["deletionTimestamp"]) or self.clock.now()) - old_grace

    def _shorten(self, rt: ResourceType, current: Obj, grace: int) -> Obj:
        """A second DELETE may only shorten a pod's grace period, counted from the first."""
        requested = self._shortened_from(current, grace)
        if requested is None:
            return current
        obj = self._mark_deleted(rt, current, grace=grace, requested=requested,
                                 finalizers=list(current["metadata"].get("finalizers") or ()))
        return self._remove(rt, obj) if self._releasable(obj) else obj

    def finish_pod(self, rt: ResourceType, pod: Obj) -> Obj | None:
        """What the kubelet does once a pod's containers stopped: delete it with grace 0."""
        meta = pod["metadata"]
        if meta.get("finalizers"):
            if meta.get("deletionGracePeriodSeconds"):
                return self._mark_deleted(rt, pod, grace=0, finalizers=meta["finalizers"])
            return pod
        return self._remove(rt, pod)

    def _remove(self, rt: ResourceType, current: Obj) -> Obj:
        meta = current["metadata"]
        key = object_key(meta.get("namespace"), meta["name"])
        change = self.store.remove(rt.store_key, key, rv=self.store.next_rv())
        if change is None:
            return current
        self._by_uid.pop(meta["uid"], None)
        self._reindex_owners(rt.store_key, key, current, None)
        self._delete_dependents(meta["uid"])
        self._release_owners(current)
        if meta.get("namespace") in self._terminating_namespaces:
            self._finish_namespace(meta["namespace"])
        if rt is CRDS:
            self.catalog.forget(meta["name"])
        elif rt.crd:
            self._finish_crd(rt.crd)
        return change.obj

    # -- garbage collection ----------------------------------------------------------------

    def _orphan(self, uid: str) -> None:
        for store, key in sorted(self._dependents.pop(uid, set())):
            dependent = self.store.get(store, key)
            if dependent is not None:
                self._drop_owner(self.catalog.storage(store), dependent, uid)

    def _drop_owner(self, rt: ResourceType, dependent: Obj, uid: str) -> None:
        refs = [ref for ref in dependent["metadata"].get("ownerReferences") or ()
                if ref.get("uid") != uid]
        meta = {**dependent["metadata"], "ownerReferences": refs}
        if not refs:
            del meta["ownerReferences"]
        self._commit(rt, {**dependent, "metadata": meta}, dependent)

    def _delete_dependents(self, uid: str) -> None:
        """Background propagation: dependents whose owners are all gone are deleted."""
        for store, key in sorted(self._dependents.get(uid, set())):
            dependent = self.store.get(store, key)
            if dependent is None or dependent["metadata"].get("deletionTimestamp"):
                continue
            rt = self.catalog.storage(store)
            alive = _owner_uids(dependent) - {uid}
            if any(self.by_uid(owner) is not None for owner in alive):
                if self.by_uid(uid) is None:
                    self._drop_owner(rt, dependent, uid)
                continue
            meta = dependent["metadata"]
            self.delete(rt, namespace=meta.get("namespace"), name=meta["name"],
                        options=DeleteOptions(propagation_policy="Background"))

    def _release_owners(self, removed: Obj) -> None:
        """Foreground deletion: an owner goes once its last dependent has gone."""
        for uid in _owner_uids(removed):
            owner = self.by_uid(uid)
            if owner is None or FOREGROUND not in (owner["metadata"].get("finalizers") or ()):
                continue
            if self._dependents.get(uid):
                continue
            store, _ = self._by_uid[uid]
            meta = dict(owner["metadata"])
            meta["finalizers"] = [f for f in meta["finalizers"] if f != FOREGROUND]
            self._write(self.catalog.storage(store), owner, {**owner, "metadata": meta})

    # -- namespaces ------------------------------------------------------------------------

    def _terminate_namespace(self, rt: ResourceType, current: Obj) -> Obj:
        name = current["metadata"]["name"]
        meta = {**current["metadata"], "deletionTimestamp": format_time(self.clock.now()),
                "deletionGracePeriodSeconds": 0}
        obj = {**current, "metadata": meta, "spec": {"finalizers": ["kubernetes"]},
               "status": {"phase": "Terminating"}}
        obj = self._commit(rt, obj, current)
        self._terminating_namespaces.add(name)
        for store, rt_in in self.catalog.storages().items():
            if not rt_in.namespaced:
                continue
            for _, obj_in in list(self.store.iterate(store, start="", rv=self.store.rv,
                                                     prefix=f"{name}/")):
                if not obj_in["metadata"].get("deletionTimestamp"):
                    self.delete(rt_in, namespace=name, name=obj_in["metadata"]["name"],
                                options=DeleteOptions(propagation_policy="Background"))
        self._finish_namespace(name)
        return self.store.get(rt.store_key, name) or obj

    def _finish_namespace(self, name: str) -> None:
        for store, rt in self.catalog.storages().items():
            if rt.namespaced and next(
                self.store.iterate(store, start="", rv=self.store.rv, prefix=f"{name}/"), None
            ):
                return
        self._terminating_namespaces.discard(name)
        namespace = self.store.get("/namespaces", name)
        if namespace is not None:
            self._remove(BUILTIN["/namespaces"], namespace)

    # -- CustomResourceDefinitions ---------------------------------------------------------

    def _terminate_crd(self, crd: Obj, finalizers: list[str]) -> Obj:
        """Deleting a CRD deletes its objects first (the finalizer the server adds and its
        `crdFinalizer` controller); the CRD goes with the last of them."""
        name = crd["metadata"]["name"]
        if apiextensions.CLEANUP_FINALIZER not in finalizers:
            finalizers.append(apiextensions.CLEANUP_FINALIZER)
        meta = {**crd["metadata"], "deletionTimestamp": self._timestamp(),
                "deletionGracePeriodSeconds": 0, "finalizers": finalizers}
        marked = {**crd, "metadata": meta}
        self._crd_status(marked)
        self._commit(CRDS, marked, crd)
        for rt in self.catalog.of_crd(name)[:1]:
            for _, obj in list(self.store.iterate(rt.store_key, start="", rv=self.store.rv,
                                                  prefix="")):
                if not obj["metadata"].get("deletionTimestamp"):
                    self.delete(rt, namespace=obj["metadata"].get("namespace"),
                                name=obj["metadata"]["name"],
                                options=DeleteOptions(propagation_policy="Background"))
        self._finish_crd(name)
        return self.store.get(CRDS.store_key, name) or marked

    def _finish_crd(self, name: str) -> None:
        """Remove a terminating CRD once none of its objects is left."""
        crd = self.store.get(CRDS.store_key, name)
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return
        for rt in self.catalog.of_crd(name)[:1]:
            if next(self.store.iterate(rt.store_key, start="", rv=self.store.rv, prefix=""),
                    None):
                return
        meta = dict(crd["metadata"])
        meta["finalizers"] = [f for f in meta.get("finalizers") or ()
                              if f != apiextensions.CLEANUP_FINALIZER]
        self._write(CRDS, crd, {**crd, "metadata": meta})
