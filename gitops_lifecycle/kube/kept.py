"""Which labels and annotations a cached object keeps: the keys some reader declared it reads.

An informer's cache holds 100,000s of objects, and most of their labels and annotations
(`batch.kubernetes.io/controller-uid`, `kubectl.kubernetes.io/restartedAt`, Helm's release
names) are read by nothing here. Each module that reads a label or annotation of a cached
object declares the key (or a prefix) when it is imported, next to the constant that names it:

    OPT_OUT = kept.annotation("gitops.io/cleanup")

and the cache keeps those and drops the rest. The keys are fixed in the code, not in the
settings: a setting that named a label or annotation to read would declare it here while the
settings are loaded, before any informer lists.

Reading any other key of a cached object raises `NotKeptError`, so a reader that forgot to
declare its key fails in the tests instead of seeing "no such label" in production. A key
declared after objects were cached would not be in them: declarations belong at import time,
and `declare` refuses new keys once a cache has filtered with the old set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import msgspec


class NotKeptError(KeyError):
    """A label or annotation that no reader declared, so the cache did not keep it."""


class Keys:
    """Keys and key prefixes of one map (labels or annotations)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.keys: set[str] = set()
        self.prefixes: tuple[str, ...] = ()
        self.used = False
        """Whether a cache has filtered with these keys (no new key may come after)."""
        self._needles: re.Pattern[bytes] | None = None

    def declare(self, key: str = "", *, prefix: str = "") -> None:
        if (key and key not in self.keys) or (prefix and prefix not in self.prefixes):
            if self.used:
                msg = (f"{self.what} {key or prefix + '*'} declared after objects were cached "
                       f"without it: declare it where its module is imported")
                raise RuntimeError(msg)
            if key:
                self.keys.add(key)
            if prefix:
                self.prefixes = (*self.prefixes, prefix)
            # The JSON text of a key (or the start of it) as it appears in a map: `"key"`.
            needles = (*(msgspec.json.encode(k) for k in sorted(self.keys)),
                       *(msgspec.json.encode(p)[:-1] for p in self.prefixes))
            self._needles = re.compile(b"|".join(map(re.escape, needles)))

    def kept(self, key: str) -> bool:
        return key in self.keys or key.startswith(self.prefixes)

    def keep(self, values: Mapping[str, str]) -> dict[str, str]:
        """The entries of `values` that are kept."""
        self.used = True
        keys, prefixes = self.keys, self.prefixes
        return {key: value for key, value in values.items()
                if key in keys or (prefixes and key.startswith(prefixes))}

    def may_keep(self, text: bytes) -> bool:
        """Whether the JSON text of a map may hold a kept key (False: it surely holds none).

        A text with an escape may spell a key differently (`gitops.io\\/cleanup`): it is decoded.
        """
        self.used = True
        return self._needles is not None and (
            b"\\" in text or self._needles.search(text) is not None)


LABELS = Keys("label")
ANNOTATIONS = Keys("annotation")


def label(key: str) -> str:
    """Declare that a label is read from cached objects; returns the key."""
    LABELS.declare(key)
    return key


def annotation(key: str) -> str:
    """Declare that an annotation is read from cached objects; returns the key."""
    ANNOTATIONS.declare(key)
    return key


def annotation_prefix(prefix: str) -> str:
    """Declare that every annotation starting with `prefix` is read; returns the prefix."""
    ANNOTATIONS.declare(prefix=prefix)
    return prefix


class Kept(Mapping[str, str]):
    """The labels or annotations of a cached object: only the declared keys, checked on read."""

    __slots__ = ("_keys", "_values")

    def __init__(self, values: dict[str, str], keys: Keys) -> None:
        self._values = values
        self._keys = keys

    def _check(self, key: object) -> None:
        if isinstance(key, str) and not self._keys.kept(key):
            msg = (f"{self._keys.what} {key!r} is not kept in the informers' caches: "
                   f"declare it with gitops_lifecycle.kube.kept.{self._keys.what}()")
            raise NotKeptError(msg)

    def __getitem__(self, key: str) -> str:
        self._check(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        self._check(key)
        return key in self._values

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self._check(key)
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return self._values == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Kept({self._values!r})"
