"""One settings model for the daemon and the `wait` command.

Sources, highest first: CLI flags, environment (`GITOPS_LIFECYCLE_`, `__` for nesting),
a YAML file (`--config`), then defaults that match the operations guide.
"""

from __future__ import annotations

import json
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args, get_origin

import pydantic_settings
from pydantic import (
    AfterValidator,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from gitops_lifecycle.durations import format_duration, parse_duration
from gitops_lifecycle.sources import ENV_PREFIX, SettingsError, read_config_file

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, when_used="json"),
]
"""Seconds, written in settings as `30s`, `30m`, `1h`, `7d` or a plain number."""

MIN_INTERVAL = 1.0
"""The shortest interval or TTL accepted: anything less spins the event loop."""

Interval = Annotated[Duration, Field(ge=MIN_INTERVAL)]
"""A duration of at least one second (sweep intervals, TTLs)."""

PositiveDuration = Annotated[Duration, Field(gt=0)]
"""A duration above zero."""

WATCH_BATCH_WINDOW = 0.5
"""The default of `kubernetes.watchBatchWindow`, in seconds."""

JITTER_FACTOR = 1.2
"""client-go's leader election jitter: renewDeadline must exceed retryPeriod by this factor."""


class Section(BaseModel):
    """A settings section: camelCase keys as in the operations guide, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        validate_default=True,
        use_attribute_docstrings=True,
    )


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Least severe level written: debug, info, warning or error."""
    format: Literal["auto", "json", "console"] = "auto"
    """`auto` renders for humans on a TTY and JSON lines elsewhere."""


class ServerSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - the metrics server must be reachable by Prometheus
    """Address the /metrics, /healthz and /readyz server listens on."""
    port: int = Field(8080, ge=0, le=65535)
    """Port of the /metrics, /healthz and /readyz server."""


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

    def within(self, outer: NamespaceScope) -> NamespaceScope:
        """The namespaces both this scope and `outer` allow (`outer`: what is watched)."""
        include = [n for n in self.include or outer.include if outer.allows(n) and self.allows(n)]
        if (self.include or outer.include) and not include:
            msg = "no namespace is in both scopes"
            raise ValueError(msg)
        exclude = list(dict.fromkeys([*outer.exclude, *self.exclude]))
        return NamespaceScope(include=include, exclude=exclude)


class WatchScope(NamespaceScope):
    watch_each_up_to: int = Field(10, ge=0)
    """With at most this many namespaces in `include`, each gets a list and watch of its own
    (a Role per namespace suffices); with more, one cluster-wide list and watch per resource,
    filtered by the daemon (needs cluster-wide list/watch)."""


class LeaderElectionSettings(Section):
    enabled: bool = True
    """Elect a leader on a Lease so that with several replicas only one acts."""
    lease_name: str = "gitops-lifecycle-management"
    """Name of the coordination.k8s.io/v1 Lease."""
    lease_namespace: str = "gitops-system"
    """Namespace of the Lease."""
    lease_duration: PositiveDuration = 15
    """How long a lease is valid without renewal; a standby takes over after it."""
    renew_deadline: PositiveDuration = 10
    """The leader steps down if it cannot renew within this time (less than leaseDuration)."""
    retry_period: PositiveDuration = 2
    """How often the leader renews and a standby retries (renewDeadline over 1.2 of it)."""
    identity: str | None = None
    """Defaults to the pod name (HOSTNAME) plus a random suffix."""

    @field_validator("renew_deadline")
    @classmethod
    def _within_lease(cls, value: float, info: ValidationInfo) -> float:
        duration = info.data.get("lease_duration")
        if duration is not None and not value < duration:
            msg = f"must be less than leaseDuration ({duration:g}s)"
            raise ValueError(msg)
        return value

    @field_validator("retry_period")
    @classmethod
    def _within_deadline(cls, value: float, info: ValidationInfo) -> float:
        deadline = info.data.get("renew_deadline")
        if deadline is not None and not value * JITTER_FACTOR < deadline:
            msg = f"must be less than renewDeadline ({deadline:g}s) / {JITTER_FACTOR}"
            raise ValueError(msg)
        return value


def _existing_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError("no such file" if not path.exists() else "not a file")
    return path


class KubernetesSettings(Section):
    kubeconfig: Annotated[Path | None, AfterValidator(_existing_file)] = None
    """Path to a kubeconfig; default: in-cluster config, then KUBECONFIG, then ~/.kube/config."""
    context: str | None = None
    """Kubeconfig context to use (default: the current context)."""
    qps: float = Field(50, gt=0)
    """Client-side limit on API requests per second."""
    burst: int = Field(100, ge=1)
    """Requests allowed above `qps` in a burst."""
    request_timeout: PositiveDuration = 30.0
    """Longest a request may take once it has a connection (waiting for one does not count)."""
    list_timeout: PositiveDuration = 60.0
    """Longest one page of an informer's LIST may take (large pages of large objects)."""
    page_size: int = Field(500, ge=1, le=10000)
    """Objects per page of an informer's LIST."""
    watch_batch_window: Annotated[Duration, Field(ge=0, le=5)] = WATCH_BATCH_WINDOW
    """While watch events keep coming, they are read together at most this often (one
    wake-up for many, all watches at the same moments); 0 reads each as it arrives. A busy
    stream is read sooner, before its socket could fill."""
    namespaces: WatchScope = WatchScope()
    """Which namespaces the informers watch."""
    label_selector: str = ""
    """Label selector the informers pass to the API server."""
    field_selector: str = ""
    """Field selector the informers pass to the API server."""
    leader_election: LeaderElectionSettings = LeaderElectionSettings()
    """Leader election settings."""


class Policy(Section):
    enabled: bool = True
    """Turn this policy on or off."""
    dry_run: bool = False
    """Log and count what this policy would delete, delete nothing."""


class JobPolicy(Policy):
    ttl: Interval


class CompletedJobsPolicy(JobPolicy):
    ttl: Interval = 3600
    """Delete a Job this long after it completed (Complete=True)."""


class FailedJobsPolicy(JobPolicy):
    ttl: Interval = 86400
    """Delete a Job this long after it failed (Failed=True)."""


class JobsOptions(Section):
    include_cron_job_owned: bool = False
    """Also delete Jobs owned by a CronJob (normally left to its history limits)."""
    include_gitops_managed: bool = False
    """Also delete Jobs a GitOps tool would re-create (Flux Kustomization, Argo CD)."""


class StuckPodsPolicy(Policy):
    threshold: Duration = 300
    """How long past its deletionTimestamp (the end of its grace period) a pod counts as stuck."""
    mode: Literal["safe", "always", "report"] = "safe"
    """`safe`: force only where the node is gone or long NotReady; `always`: force every
    stuck pod; `report`: never force, only count."""
    not_ready_grace: Duration = 600
    """How long a node must be NotReady before its pods may be force-deleted in safe mode."""


class EventsPolicy(Policy):
    ttl: Interval = 86400
    """Delete Events whose newest timestamp is older than this."""
    interval: Interval = 3600
    """How often the paginated Events sweep runs."""


class ReplicaSetsPolicy(Policy):
    min_keep: int = Field(3, ge=0)
    """Keep at least this many old ReplicaSets per Deployment (newest by revision)."""
    min_age: Duration = 3600
    """Never delete a ReplicaSet younger than this."""


class OrphanedProvidersPolicy(Policy):
    max_age: Duration = 604800
    """Delete an orphaned provider this long after its source went away."""
    max_per_sweep: int = Field(10, ge=1)
    """Delete at most this many orphaned providers in one sweep."""


class CleanupPolicies(Section):
    completed_jobs: CompletedJobsPolicy = CompletedJobsPolicy()
    """Jobs that completed successfully."""
    failed_jobs: FailedJobsPolicy = FailedJobsPolicy()
    """Jobs that failed (including DeadlineExceeded and BackoffLimitExceeded)."""
    jobs: JobsOptions = JobsOptions()
    """Which Jobs the two Job policies consider."""
    stuck_pods: StuckPodsPolicy = StuckPodsPolicy()
    """Pods stuck Terminating."""
    events: EventsPolicy = EventsPolicy()
    """Old Kubernetes Events."""
    replica_sets: ReplicaSetsPolicy = ReplicaSetsPolicy()
    """Surplus ReplicaSets of Deployments."""
    orphaned_providers: OrphanedProvidersPolicy = OrphanedProvidersPolicy()
    """Authentik providers no ProxyConfig wants any more."""


class ControllerSettings(Section):
    interval: Interval = 3600
    """Safety-net sweep over the cache; objects are normally acted on at their exact expiry."""
    policies: CleanupPolicies = CleanupPolicies()
    """What each cleanup policy selects."""


class RateLimit(Section):
    per_second: float = Field(20, gt=0)
    """Deletions per second, sustained."""
    burst: int = Field(40, ge=1)
    """Deletions allowed in a burst."""


class BlastRadius(Section):
    max_share: float = Field(0.5, gt=0, le=1)
    """A policy may delete at most this share of the objects of its kind within `window`..."""
    max_count: int = Field(500, ge=1)
    """...and at most this many; above both it stops until `confirmed` or the window passes."""
    confirmed: bool = False
    """Set to true to let a sweep the guard stopped go ahead."""
    window: Interval = 3600
    """Every deletion counts against the limits for this long, however it was triggered; a
    stopped policy resumes once this has passed (or when confirmed)."""


class CleanupSettings(Section):
    enabled: bool = True
    """Turn all cleanup on or off."""
    dry_run: bool = False
    """Global dry-run: nothing is deleted, everything is logged and counted."""
    namespaces: NamespaceScope = NamespaceScope()
    """Namespaces cleanup may act in."""
    controller: ControllerSettings = ControllerSettings()
    """The controller's sweep interval and policies."""
    rate_limit: RateLimit = RateLimit()
    """Token-bucket limit on deletions."""
    blast_radius: BlastRadius = BlastRadius()
    """Guard against mass deletion."""


class RetryPolicy(Section):
    max_attempts: int = Field(10, ge=1)
    """Attempts before giving up."""
    base_delay: Duration = 2
    """Delay before the second attempt, in seconds (or a duration)."""
    max_delay: Duration = 60
    """Cap on any one delay."""
    backoff_multiplier: float = Field(2, ge=1)
    """Each delay grows by this factor."""
    jitter: bool = True
    """Randomise each delay between 0 and its cap (full jitter)."""
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
    """Consecutive failures that open the circuit."""
    recovery_timeout: Duration = 30
    """How long an open circuit waits before letting one call through."""


class RetrySettings(Section):
    enabled: bool = True
    """Turn retrying on or off for the daemon's outbound calls."""
    defaults: RetryPolicy = RetryPolicy()
    """Retry settings every service starts from."""
    services: dict[str, RetryOverride] = {}
    """Overrides by service name (case-insensitive: database, redis, mqtt, http, tcp,
    kubernetes, …), each with keys of `defaults`; in the environment one variable per key,
    such as GITOPS_LIFECYCLE_RETRY__SERVICES__DATABASE__MAXATTEMPTS=50."""
    circuit_breaker: CircuitBreakerSettings = CircuitBreakerSettings()
    """Circuit breaker for the daemon's outbound calls and `wait`."""

    @field_validator("services", mode="before")
    @classmethod
    def _service_names_in_lower_case(cls, value: Any) -> Any:
        # Environment variable names reach the settings in lower case: names given in a file
        # or a flag are taken the same way, so that each source means the same service.
        if not isinstance(value, dict):
            return value
        lowered: dict[str, Any] = {}
        for name, override in value.items():
            key = str(name).lower()
            if key in lowered:
                msg = f"{key!r} given twice (service names are case-insensitive)"
                raise ValueError(msg)
            lowered[key] = override
        return lowered

    def policy(self, service: str) -> RetryPolicy:
        """The defaults with `services.<service>` laid over them."""
        override = self.services.get(service.lower())
        if override is None:
            return self.defaults
        changes = override.model_dump(exclude_none=True)
        return self.defaults.model_copy(update=changes)


class Thresholds(Section):
    cleanup_failure_rate: float = Field(0.1, ge=0, le=1)
    """Alert when more than this share of cleanup operations fail."""
    max_cleanup_duration: Duration = 300
    """Alert when a cleanup sweep takes longer than this."""


class PrometheusRulesSettings(Section):
    enabled: bool = True
    """Render the PrometheusRule with the alerts."""
    thresholds: Thresholds = Thresholds()
    """Alert thresholds."""


class MonitoringSettings(Section):
    enabled: bool = True
    """Export metrics and render the ServiceMonitor."""
    prometheus_rules: PrometheusRulesSettings = PrometheusRulesSettings()
    """Alert rules."""


_CLUSTER_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class AuthentikSettings(Section):
    url: str = Field("http://authentik-server.authentik.svc.cluster.local:80",
                     pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Base URL of the Authentik server."""
    token: SecretStr = SecretStr("")
    """Authentik API token (never logged); `tokenFile` is read instead when set."""
    token_file: Path | None = None
    """File holding the API token (a mounted Secret); re-read when it changes or on a 403."""
    cluster_name: str = Field("default", pattern=_CLUSTER_NAME, max_length=63)
    """Names this installation in the ownership marker, so that clusters sharing one
    Authentik never touch each other's providers."""
    outpost: str = ""
    """Outpost providers are added to; empty: the embedded outpost."""
    authorization_flow: str = "default-provider-authorization-implicit-consent"
    """Slug of the authorization flow new providers use (a ProxyConfig may override it)."""
    invalidation_flow: str = "default-provider-invalidation-flow"
    """Slug of the invalidation flow new providers use (a ProxyConfig may override it)."""
    cookie_domain: str = ""
    """Cookie domain for forward_domain providers (a ProxyConfig may override it)."""
    timeout: Duration = Field(10, gt=0)
    """Timeout of one API request."""
    attempts: int = Field(3, ge=1, le=10)
    """Attempts per request on connection errors and 5xx answers (with backoff)."""
    page_size: int = Field(100, ge=1, le=100)
    """Objects per page when listing (Authentik caps pages at 100)."""

    def configured(self) -> bool:
        """Whether a token (or a token file) is set: without one, discovery stays off."""
        return self.token_file is not None or bool(self.token.get_secret_value())


class ServiceDiscoverySettings(Section):
    enabled: bool = True
    """Reconcile ProxyConfigs and labelled Services into Authentik (needs an Authentik token)."""
    resync_interval: Duration = Field(300, gt=0)
    """How often Authentik is listed again to repair changes made there by hand."""
    workers: int = Field(4, ge=1, le=64)
    """ProxyConfigs reconciled at once."""


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
        use_attribute_docstrings=True,
    )

    logging: LoggingSettings = LoggingSettings()
    """Log level and format."""
    server: ServerSettings = ServerSettings()
    """The observability server."""
    grace_period: Duration = 10
    """How long shutdown may take before components are abandoned."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    """How to reach the Kubernetes API and what to watch."""
    cleanup: CleanupSettings = CleanupSettings()
    """What the cleanup controller deletes, and how carefully."""
    retry: RetrySettings = RetrySettings()
    """Backoff, deadlines and circuit breaker for `wait` and outbound calls."""
    monitoring: MonitoringSettings = MonitoringSettings()
    """Monitoring resources and alert thresholds."""
    authentik: AuthentikSettings = AuthentikSettings()
    """The Authentik API the service-discovery controller talks to."""
    service_discovery: ServiceDiscoverySettings = ServiceDiscoverySettings()
    """ProxyConfigs and labelled Services into Authentik providers."""

    @model_validator(mode="after")
    def _cleanup_scope_is_watched(self) -> Self:
        try:
            self.cleanup.namespaces.within(self.kubernetes.namespaces)
        except ValueError:
            msg = ("cleanup.namespaces.include: none of these namespaces is watched "
                   "(kubernetes.namespaces)")
            raise ValueError(msg) from None
        return self

    def cleanup_scope(self) -> CleanupSettings:
        """`cleanup` with its namespaces narrowed to those the informers watch: one scope
        that every policy (and the Events sweep, which lists on its own) decides by."""
        scope = self.cleanup.namespaces.within(self.kubernetes.namespaces)
        return self.cleanup.model_copy(update={"namespaces": scope})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - replaced by _Environment
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environment = _Environment(settings_cls)
        path = _config_file.get()
        if path is None:
            return init_settings, environment
        return init_settings, environment, YamlConfigSettingsSource(settings_cls, yaml_file=path)


class _Environment(EnvSettingsSource):
    """The `GITOPS_LIFECYCLE_*` variables, whose names arrive in lower case.

    pydantic-settings matches lower-cased keys to the settings' own (`maxattempts` to
    `maxAttempts`) only down a path of sections; under a mapping keyed by free names
    (`retry.services.<service>`) it leaves them as they came. Here they are matched there too.
    """

    def __call__(self) -> dict[str, Any]:
        return _with_settings_case(self.settings_cls, super().__call__())


def _with_settings_case(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` for `model` with each key spelled as the field (or its alias) it names,
    however it is cased; keys that name no field are left for validation to report."""
    fields = {}
    for name, info in model.model_fields.items():
        for spelling in (name, info.alias, info.validation_alias):
            if isinstance(spelling, str):
                fields[spelling.lower()] = (spelling, info.annotation)
    fixed: dict[str, Any] = {}
    for key, value in data.items():
        spelling, annotation = fields.get(key.lower(), (key, None))
        fixed[spelling] = _value_with_settings_case(annotation, value)
    return fixed


def _value_with_settings_case(annotation: Any, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _with_settings_case(annotation, value)
    if get_origin(annotation) is dict:
        _, entry = get_args(annotation)
        return {key: _value_with_settings_case(entry, item) for key, item in value.items()}
    return value


def load(config: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the settings from flags (`overrides`), environment, `config` and defaults."""
    if config is not None:
        read_config_file(config)
    token = _config_file.set(config)
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except pydantic_settings.SettingsError as exc:  # an environment variable it cannot decode
        raise SettingsError(_undecodable(exc)) from None
    finally:
        _config_file.reset(token)


def _undecodable(exc: pydantic_settings.SettingsError) -> str:
    """Name the environment variables of the section that hold values that are not JSON."""
    section = re.search(r'field "([^"]+)"', str(exc))
    prefix = ENV_PREFIX + (section.group(1).upper() if section else "")
    bad = []
    for name, value in os.environ.items():
        if name.upper().startswith(prefix) and value.lstrip()[:1] in ("{", "["):
            try:
                json.loads(value)
            except ValueError as error:
                bad.append(f"{name}: not valid JSON ({error})")
    return "; ".join(bad) or f"{exc} ({exc.__cause__})"


def _describe(exc: ValidationError) -> str:
    """One line per problem: the dotted key, the value given, and what is expected."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if not key:  # a rule across sections: its message names the keys
            lines.append(_expected(error))
            continue
        if error["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown setting")
            continue
        given = error.get("input")
        shown = "***" if _is_secret_key(key) else repr(str(given) if isinstance(given, Path)
                                                          else given)
        lines.append(f"{key}: {shown} is invalid: {_expected(error)}")
    return "; ".join(lines)


def _expected(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _is_secret_key(key: str) -> bool:
    return any(word in key.lower() for word in ("token", "password", "secret"))


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as a plain mapping in the file's own keys, secrets masked."""
    data: dict[str, Any] = settings.model_dump(mode="json", by_alias=True)
    return data
