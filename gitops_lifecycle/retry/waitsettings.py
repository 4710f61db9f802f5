"""The settings `wait` reads, read without pydantic when they are plainly valid.

`wait` reads `logging.level` and `.format`, `retry.defaults`, `retry.services` and
`kubernetes.kubeconfig` and `.context`. Building the whole settings model would cost an init
container more than the rest of `wait` together (pydantic: about 15 MiB and most of the
start-up time), so these keys are read here from the same sources in the same order: flags and
`--set` over GITOPS_LIFECYCLE_ variables over the `--config` file. Whatever this reader is not
sure of (another key or variable, another spelling, a value it does not accept, one key given
in two sources in different spellings) sends the reading to the settings model instead, so
the values, the messages and the exit codes are always those of every other command.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_lifecycle.durations import parse_duration
from gitops_lifecycle.retry.policy import DEFAULT, FIELDS, Policy
from gitops_lifecycle.sources import ENV_NESTING, ENV_PREFIX, read_config_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from gitops_lifecycle.settings import Settings


class Unsure(Exception):  # noqa: N818 - reads as the state it reports
    """A source holds something that only the settings model can judge."""


@dataclasses.dataclass(frozen=True)
class Logging:
    """`logging`."""

    level: str = "info"
    format: str = "auto"


@dataclasses.dataclass(frozen=True)
class Kubernetes:
    """`kubernetes.kubeconfig` and `.context` (the Kubernetes checks read nothing else)."""

    kubeconfig: Path | None = None
    context: str | None = None


@dataclasses.dataclass(frozen=True)
class Retry:
    """`retry.defaults` and `retry.services` (each service's keys that override them)."""

    defaults: Policy = DEFAULT
    services: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def policy(self, service: str) -> Policy:
        """The defaults with `services.<service>` laid over them (names in any case)."""
        return dataclasses.replace(self.defaults, **self.services.get(service.lower(), {}))


@dataclasses.dataclass(frozen=True)
class WaitSettings:
    """What `wait` reads of the settings."""

    logging: Logging = Logging()
    retry: Retry = Retry()
    kubernetes: Kubernetes = Kubernetes()

    @classmethod
    def of(cls, settings: Settings) -> WaitSettings:
        """The part of the full settings that `wait` reads."""
        retry, kube = settings.retry, settings.kubernetes
        services = {name: override.model_dump(exclude_none=True)
                    for name, override in retry.services.items()}
        return cls(
            logging=Logging(level=settings.logging.level, format=settings.logging.format),
            retry=Retry(defaults=Policy(**retry.defaults.model_dump()), services=services),
            kubernetes=Kubernetes(kubeconfig=kube.kubeconfig, context=kube.context),
        )


def load(config: Path | None, overrides: dict[str, Any],
         environ: Mapping[str, str]) -> WaitSettings:
    """The settings `wait` reads: by this module, or by the settings model when it is unsure."""
    try:
        return read(config, overrides, environ)
    except Unsure:
        from gitops_lifecycle import settings

        return WaitSettings.of(settings.load(config, overrides))


def read(config: Path | None, overrides: dict[str, Any],
         environ: Mapping[str, str]) -> WaitSettings:
    """The settings from flags (`overrides`), `environ` and `config`; Unsure if in doubt."""
    services: set[str] = set()  # every service named, as written
    sources = [_leaves(overrides, services), _environment(environ, services)]
    if config is not None:
        sources.append(_leaves(read_config_file(config), services))
    if len({name.lower() for name in services}) < len(services):
        raise Unsure  # one service named in two cases
    merged: dict[tuple[str, ...], Any] = {}
    for leaves in reversed(sources):  # the file first, flags last
        for path, value in leaves.items():
            if path in merged and _spellings(path[-1]) > 1:
                raise Unsure  # which spelling wins is the settings model's business
            merged[path] = value
    return _settings(merged)


def with_flags(policy: Policy, flags: dict[str, Any]) -> Policy:
    """`policy` with the retry flags given; Unsure if a flag's value is not plainly valid."""
    return dataclasses.replace(policy, **{key: _POLICY[key](value) for key, value in flags.items()})


# --- the sources, as leaves: (section, …, field name) → value as given ---------------------------

_SECTIONS: dict[str, tuple[str, ...]] = {
    "logging": ("level", "format"),
    "kubernetes": ("kubeconfig", "context"),
    "retry": ("defaults", "services"),
}


def _leaves(data: Any, services: set[str]) -> dict[tuple[str, ...], Any]:
    leaves: dict[tuple[str, ...], Any] = {}
    for section, fields in _fields(data, _SECTIONS).items():
        for key, value in _fields(fields, _SECTIONS[section]).items():
            if (section, key) == ("retry", "defaults"):
                leaves.update(_under(("retry", "defaults"), _fields(value, FIELDS)))
            elif (section, key) == ("retry", "services"):
                leaves.update(_services(value, services))
            else:
                leaves[(section, key)] = value
    return leaves


def _services(value: Any, services: set[str]) -> dict[tuple[str, ...], Any]:
    if not isinstance(value, dict) or not all(isinstance(name, str) for name in value):
        raise Unsure
    services.update(value)
    leaves: dict[tuple[str, ...], Any] = {}
    for name, override in value.items():
        leaves.update(_under(("retry", "services", name.lower()), _fields(override, FIELDS)))
    return leaves


def _under(prefix: tuple[str, ...], fields: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    return {(*prefix, key): value for key, value in fields.items()}


def _fields(data: Any, names: Iterable[str]) -> dict[str, Any]:
    """A section's keys as field names, written either way (`maxAttempts`, `max_attempts`)."""
    if not isinstance(data, dict):
        raise Unsure
    spelled = {spelling: name for name in names for spelling in (name, _camel(name))}
    fields: dict[str, Any] = {}
    for key, value in data.items():
        name = spelled.get(key) if isinstance(key, str) else None
        if name is None or name in fields:
            raise Unsure
        fields[name] = value
    return fields


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _spellings(name: str) -> int:
    return len({name, _camel(name)})


_VARIABLES = (("logging", "level"), ("logging", "format"), ("kubernetes", "kubeconfig"),
              ("kubernetes", "context"))
# Names arrive in lower case; a field is found by its own name or its camelCase one.
_POLICY_VARIABLES = {spelling.lower(): name for name in FIELDS
                     for spelling in (name, _camel(name))}


def _environment(environ: Mapping[str, str], services: set[str]) -> dict[tuple[str, ...], Any]:
    """The GITOPS_LIFECYCLE_ variables `wait` reads (names in any case)."""
    prefix = ENV_PREFIX.lower()
    leaves: dict[tuple[str, ...], Any] = {}
    whole_services = service_keys = False
    for variable, value in environ.items():
        name = variable.lower()
        if not name.startswith(prefix):
            continue
        path = _variable(name.removeprefix(prefix).split(ENV_NESTING))
        if path == ("retry", "services"):
            whole_services = True
            leaves.update(_services(_json(value), services))
            continue
        if path in leaves:
            raise Unsure  # two variables for one key: differing in case, or in spelling
        if path[:2] == ("retry", "services"):
            service_keys = True
            services.add(path[2])
        leaves[path] = value
    if whole_services and service_keys:
        raise Unsure  # which comes first, the JSON or a key of it, is the model's business
    return leaves


def _variable(parts: list[str]) -> tuple[str, ...]:
    """The key a variable's name (without prefix, split at `__`) names; Unsure if another."""
    path = tuple(parts)
    if path in _VARIABLES or path == ("retry", "services"):
        return path
    if len(path) == 3 and path[:2] == ("retry", "defaults") and path[2] in _POLICY_VARIABLES:
        return (*path[:2], _POLICY_VARIABLES[path[2]])
    if len(path) == 4 and path[:2] == ("retry", "services") and path[2] \
            and path[3] in _POLICY_VARIABLES:
        return (*path[:3], _POLICY_VARIABLES[path[3]])
    raise Unsure


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Unsure from None


# --- the values --------------------------------------------------------------------------------


def _settings(leaves: dict[tuple[str, ...], Any]) -> WaitSettings:
    defaults: dict[str, Any] = {}
    services: dict[str, dict[str, Any]] = {}
    plain: dict[str, Any] = {}
    for path, value in leaves.items():
        if path[:2] == ("retry", "defaults"):
            defaults[path[2]] = _POLICY[path[2]](value)
        elif path[:2] == ("retry", "services"):
            if value is not None:  # a key left unset: the service inherits it
                services.setdefault(path[2], {})[path[3]] = _POLICY[path[3]](value)
            else:
                services.setdefault(path[2], {})
        else:
            plain[path[1]] = _PLAIN[path](value)
    return WaitSettings(
        logging=Logging(**{k: v for k, v in plain.items() if k in ("level", "format")}),
        retry=Retry(defaults=Policy(**defaults), services=services),
        kubernetes=Kubernetes(**{k: v for k, v in plain.items()
                                 if k in ("kubeconfig", "context")}),
    )


def _choice(*allowed: str) -> Callable[[Any], str]:
    def choose(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise Unsure
        return value

    return choose


def _count(value: Any) -> int:
    """An int of at least 1, or its digits."""
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]*", value):
        value = int(value)
    if type(value) is not int or value < 1:
        raise Unsure
    return value


def _factor(value: Any) -> float:
    """A finite number of at least 1, or its decimal digits."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        value = float(value)
    if type(value) not in (int, float) or not 1 <= value < math.inf:
        raise Unsure
    return float(value)


_TRUE = ("1", "on", "t", "true", "y", "yes")
_FALSE = ("0", "off", "f", "false", "n", "no")


def _flag(value: Any) -> bool:
    if type(value) is bool:
        return value
    word = value.lower() if isinstance(value, str) and value.isascii() else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise Unsure


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise Unsure from None


def _kubeconfig(value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value) or not Path(value).is_file():
        raise Unsure
    return Path(value)


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise Unsure
    return value


_POLICY: dict[str, Callable[[Any], Any]] = {
    "max_attempts": _count, "base_delay": _duration, "max_delay": _duration,
    "backoff_multiplier": _factor, "jitter": _flag, "timeout": _duration,
    "attempt_timeout": _duration,
}
_PLAIN: dict[tuple[str, ...], Callable[[Any], Any]] = {
    ("logging", "level"): _choice("debug", "info", "warning", "error"),
    ("logging", "format"): _choice("auto", "json", "console"),
    ("kubernetes", "kubeconfig"): _kubeconfig,
    ("kubernetes", "context"): _text,
}
