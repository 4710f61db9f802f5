"""One settings model for the daemon and the `wait` command.

Sources, highest first: CLI flags, environment (`GITOPS_LIFECYCLE_`, `__` for nesting),
a YAML file (`--config`), then defaults that match the operations guide.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "GITOPS_LIFECYCLE_"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_EXPECTED = "a duration such as 30s, 30m, 1h, 7d, 1h30m or plain seconds"


def parse_duration(value: Any) -> float:
    """Turn `30s`, `30m`, `1h`, `7d`, `1h30m` or plain seconds into seconds."""
    if isinstance(value, bool):
        raise ValueError(_EXPECTED)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration_text(value.strip())
    else:
        raise ValueError(_EXPECTED)  # noqa: TRY004 - pydantic reports ValueError as a validation error
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(_EXPECTED)
    return seconds


def _parse_duration_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    if not text or _DURATION.sub("", text):
        raise ValueError(_EXPECTED)
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


def format_duration(seconds: float) -> str | float:
    """Render seconds in the largest unit that divides them (3600 → `1h`)."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, when_used="json"),
]
"""Seconds, written in settings as `30s`, `30m`, `1h`, `7d` or a plain number."""


class Section(BaseModel):
    """A settings section: camelCase keys as in the operations guide, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        validate_default=True,
    )


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    """`auto` renders for humans on a TTY and JSON lines elsewhere."""


class ServerSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - the metrics server must be reachable by Prometheus
    port: int = Field(8080, ge=0, le=65535)


class NamespaceScope(Section):
    include: list[str] = []
    """Only these namespaces (empty: all)."""
    exclude: list[str] = []
    """Never these namespaces."""

    def allows(self, namespace: str | None) -> bool:
        """Whether objects in `namespace` are in scope (cluster-scoped objects always are)."""
        if not namespace:
            return True
        if namespace in self.exclude:
            return False
        return not self.include or namespace in self.include


class LeaderElectionSettings(Section):
    enabled: bool = True
    lease_name: str = "gitops-lifecycle-management"
    lease_namespace: str = "gitops-system"
    lease_duration: Duration = 15
    renew_deadline: Duration = 10
    retry_period: Duration = 2
    identity: str | None = None
    """Defaults to the pod name (HOSTNAME) plus a random suffix."""


class KubernetesSettings(Section):
    kubeconfig: Path | None = None
    """Path to a kubeconfig; default: in-cluster config, then KUBECONFIG, then ~/.kube/config."""
    context: str | None = None
    qps: float = Field(20, gt=0)
    """Client-side limit on API requests per second."""
    burst: int = Field(40, ge=1)
    namespaces: NamespaceScope = NamespaceScope()
    """Which namespaces the informers watch."""
    label_selector: str = ""
    field_selector: str = ""
    leader_election: LeaderElectionSettings = LeaderElectionSettings()


class Policy(Section):
    enabled: bool = True
    dry_run: bool = False
    """Log and count what this policy would delete, delete nothing."""


class JobPolicy(Policy):
    ttl: Duration


class CompletedJobsPolicy(JobPolicy):
    ttl: Duration = 3600


class FailedJobsPolicy(JobPolicy):
    ttl: Duration = 86400


class JobsOptions(Section):
    include_cron_job_owned: bool = False
    """Also delete Jobs owned by a CronJob (normally left to its history limits)."""
    include_gitops_managed: bool = False
    """Also delete Jobs a GitOps tool would re-create (Flux Kustomization, Argo CD)."""


class StuckPodsPolicy(Policy):
    threshold: Duration = 300
    """How long past deletionTimestamp + grace period a pod counts as stuck."""
    mode: Literal["safe", "always", "report"] = "safe"
    not_ready_grace: Duration = 600
    """How long a node must be NotReady before its pods may be force-deleted in safe mode."""


class EventsPolicy(Policy):
    ttl: Duration = 86400
    interval: Duration = 3600
    """How often the paginated Events sweep runs."""


class ReplicaSetsPolicy(Policy):
    min_keep: int = Field(3, ge=0)
    min_age: Duration = 3600


class OrphanedProvidersPolicy(Policy):
    max_age: Duration = 604800


class CleanupPolicies(Section):
    completed_jobs: CompletedJobsPolicy = CompletedJobsPolicy()
    failed_jobs: FailedJobsPolicy = FailedJobsPolicy()
    jobs: JobsOptions = JobsOptions()
    stuck_pods: StuckPodsPolicy = StuckPodsPolicy()
    events: EventsPolicy = EventsPolicy()
    replica_sets: ReplicaSetsPolicy = ReplicaSetsPolicy()
    orphaned_providers: OrphanedProvidersPolicy = OrphanedProvidersPolicy()


class ControllerSettings(Section):
    interval: Duration = 3600
    """Safety-net sweep over the cache; objects are normally acted on at their exact expiry."""
    policies: CleanupPolicies = CleanupPolicies()


class RateLimit(Section):
    per_second: float = Field(10, gt=0)
    burst: int = Field(20, ge=1)


class BlastRadius(Section):
    max_share: float = Field(0.5, gt=0, le=1)
    """A sweep may delete at most this share of the cached objects of a kind..."""
    max_count: int = Field(500, ge=1)
    """...and at most this many; above both it stops and waits for `confirmed`."""
    confirmed: bool = False
    """Set to true to let a sweep the guard stopped go ahead."""


class CleanupSettings(Section):
    enabled: bool = True
    dry_run: bool = False
    """Global dry-run: nothing is deleted, everything is logged and counted."""
    namespaces: NamespaceScope = NamespaceScope()
    controller: ControllerSettings = ControllerSettings()
    rate_limit: RateLimit = RateLimit()
    blast_radius: BlastRadius = BlastRadius()


class RetryPolicy(Section):
    max_attempts: int = Field(10, ge=1)
    base_delay: Duration = 2
    max_delay: Duration = 60
    backoff_multiplier: float = Field(2, ge=1)
    jitter: bool = True
    timeout: Duration = 300
    """Total deadline for one `wait`."""
    attempt_timeout: Duration = 10
    """Timeout of one attempt (capped by the time left)."""


class RetryOverride(Section):
    """Per-service overrides of `retry.defaults`; unset keys inherit."""

    max_attempts: int | None = Field(None, ge=1)
    base_delay: Duration | None = None
    max_delay: Duration | None = None
    backoff_multiplier: float | None = Field(None, ge=1)
    jitter: bool | None = None
    timeout: Duration | None = None
    attempt_timeout: Duration | None = None


class CircuitBreakerSettings(Section):
    failure_threshold: int = Field(5, ge=1)
    recovery_timeout: Duration = 30


class RetrySettings(Section):
    enabled: bool = True
    defaults: RetryPolicy = RetryPolicy()
    services: dict[str, RetryOverride] = {}
    """Overrides by service name: database, redis, mqtt, http, tcp, kubernetes, …"""
    circuit_breaker: CircuitBreakerSettings = CircuitBreakerSettings()

    def policy(self, service: str) -> RetryPolicy:
        """The defaults with `services.<service>` laid over them."""
        override = self.services.get(service)
        if override is None:
            return self.defaults
        changes = override.model_dump(exclude_none=True)
        return self.defaults.model_copy(update=changes)


class Thresholds(Section):
    cleanup_failure_rate: float = Field(0.1, ge=0, le=1)
    max_cleanup_duration: Duration = 300


class PrometheusRulesSettings(Section):
    enabled: bool = True
    thresholds: Thresholds = Thresholds()


class MonitoringSettings(Section):
    enabled: bool = True
    prometheus_rules: PrometheusRulesSettings = PrometheusRulesSettings()


class AuthentikSettings(Section):
    url: str = "http://authentik-server.authentik.svc.cluster.local:80"
    token: SecretStr = SecretStr("")


_config_file: ContextVar[Path | None] = ContextVar("config_file", default=None)


class Settings(BaseSettings):
    """Everything the daemon and `wait` can be told."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        validate_default=True,
    )

    logging: LoggingSettings = LoggingSettings()
    server: ServerSettings = ServerSettings()
    grace_period: Duration = 10
    """How long shutdown may take before components are abandoned."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    cleanup: CleanupSettings = CleanupSettings()
    retry: RetrySettings = RetrySettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    authentik: AuthentikSettings = AuthentikSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_file.get()
        if path is None:
            return init_settings, env_settings
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=path)


class SettingsError(Exception):
    """A setting is invalid; the message names it in dotted form."""


def load(config: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the settings from flags (`overrides`), environment, `config` and defaults."""
    if config is not None:
        _check_config_file(config)
    token = _config_file.set(config)
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    finally:
        _config_file.reset(token)


def _check_config_file(path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SettingsError(f"--config {path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"--config {path}: not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise SettingsError(f"--config {path}: expected a mapping of settings at the top level")


def _describe(exc: ValidationError) -> str:
    """One line per problem: the dotted key, the value given, and what is expected."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown setting")
            continue
        given = error.get("input")
        shown = "***" if _is_secret_key(key) else repr(given)
        lines.append(f"{key}: {shown} is invalid: {_expected(error)}")
    return "; ".join(lines)


def _expected(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _is_secret_key(key: str) -> bool:
    return any(word in key.lower() for word in ("token", "password", "secret"))


def set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Put `value` at `a.b.c` in a nested dict (how `--set a.b.c=value` becomes a flag)."""
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as a plain mapping in the file's own keys, secrets masked."""
    data: dict[str, Any] = settings.model_dump(mode="json", by_alias=True)
    return data
