"""Where settings come from, before any validation: the `--config` file and `--set` keys.

Kept apart from the settings model so that a command may read a few keys without building
the whole model (`wait`, in an init container).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

ENV_PREFIX = "GITOPS_LIFECYCLE_"
ENV_NESTING = "__"


class SettingsError(Exception):
    """A setting is invalid; the message names it in dotted form."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML settings file (empty when the file is empty)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SettingsError(f"--config {path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"--config {path}: not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise SettingsError(f"--config {path}: expected a mapping of settings at the top level")
    return data or {}


def set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Put `value` at `a.b.c` in a nested dict (how `--set a.b.c=value` becomes a flag)."""
    *parents, last = dotted.split(".")
    for depth, part in enumerate(parents, 1):
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            section = ".".join(parents[:depth])
            raise SettingsError(f"{dotted}: {section} is {target!r}, not a section of settings")
    target[last] = value
