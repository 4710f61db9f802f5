"""Every Prometheus metric the daemon exports, defined in one place.

Names follow the operations guide (`gitops_cleanup_*`, `gitops_retry_*`); label sets that are
known up front are initialised at zero by `initialise()` so that rates and alerts have series
from the first scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

from gitops_lifecycle import __version__

CLEANUP_POLICIES = (
    "completedJobs", "failedJobs", "stuckPods", "events", "replicaSets", "orphanedProviders",
)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

BUILD_INFO = Info("gitops_lifecycle_build", "Version of the running daemon.")

# --- cleanup --------------------------------------------------------------------------------
JOBS_CLEANED = Counter(
    "gitops_cleanup_jobs_cleaned_total", "Jobs deleted after their TTL.", ["type"]
)
STUCK_RESOURCES_CLEANED = Counter(
    "gitops_cleanup_stuck_resources_cleaned_total",
    "Pods stuck Terminating that were force-deleted.",
)
EVENTS_CLEANED = Counter("gitops_cleanup_events_cleaned_total", "Old Events deleted.")
REPLICASETS_CLEANED = Counter(
    "gitops_cleanup_replicasets_cleaned_total", "Surplus ReplicaSets deleted."
)
PROVIDERS_CLEANED = Counter(
    "gitops_cleanup_providers_cleaned_total", "Orphaned Authentik providers deleted."
)
CYCLE_DURATION = Histogram(
    "gitops_cleanup_cycle_duration_seconds", "Duration of one cleanup sweep.", ["policy"],
    buckets=DURATION_BUCKETS,
)
CLEANUP_ERRORS = Counter(
    "gitops_cleanup_errors_total", "Cleanup operations that failed, by policy and cause.",
    ["policy", "reason"],
)
CLEANUP_ERROR_REASONS = (
    "server_error", "throttled", "unreachable", "timeout", "forbidden", "client_error",
    "invalid_response",
)
LAST_RUN = Gauge(
    "gitops_cleanup_last_run_timestamp_seconds", "When a cleanup sweep last finished.", ["policy"]
)
SKIPPED = Counter(
    "gitops_cleanup_skipped_total", "Objects a policy looked at and left alone.",
    ["policy", "reason"],
)
DELETION_LAG = Histogram(
    "gitops_cleanup_deletion_lag_seconds", "Time from an object's expiry to its deletion.",
    ["policy"], buckets=LAG_BUCKETS,
)
STUCK_PODS = Gauge("gitops_cleanup_stuck_pods", "Pods stuck Terminating past the threshold.")
DRY_RUN = Counter(
    "gitops_cleanup_dry_run_total", "Deletions dry-run reported instead of doing.", ["policy"]
)
BLAST_RADIUS_BLOCKED = Counter(
    "gitops_cleanup_blast_radius_blocked_total",
    "Sweeps stopped because they would have deleted too much.", ["policy"],
)

# --- controller machinery -------------------------------------------------------------------
RECONCILE_TOTAL = Counter(
    "gitops_reconcile_total", "Reconciliations by outcome.", ["controller", "result"]
)
RECONCILE_DURATION = Histogram(
    "gitops_reconcile_duration_seconds", "Time spent in one reconciliation.", ["controller"],
    buckets=DURATION_BUCKETS,
)
QUEUE_DEPTH = Gauge("gitops_queue_depth", "Keys waiting to be reconciled.", ["controller"])
WATCH_RESTARTS = Counter(
    "gitops_informer_watch_restarts_total", "Watch streams that ended and were reopened.", ["kind"]
)
RELISTS = Counter(
    "gitops_informer_relists_total", "Full re-lists after 410 Gone or an error.", ["kind"]
)
KUBE_CONNECTIONS = Gauge(
    "gitops_kubernetes_connections_in_use",
    "Connections to the API server in use, by pool: requests, or watches (one each).", ["pool"]
)
KUBE_REQUESTS_WAITING = Gauge(
    "gitops_kubernetes_requests_waiting",
    "Requests waiting for a free connection (all of the request pool's are in use).",
)
UNDECODABLE = Counter(
    "gitops_informer_undecodable_objects_total",
    "Objects skipped because they do not fit what the daemon reads from them.", ["kind"]
)
WATCH_EVENTS = Counter(
    "gitops_informer_events_total", "Watch events received.", ["kind", "type"]
)
OBJECTS_CACHED = Gauge("gitops_informer_objects", "Objects held in the cache.", ["kind"])
LIST_DURATION = Histogram(
    "gitops_informer_list_duration_seconds", "Duration of a full paginated LIST.", ["kind"],
    buckets=DURATION_BUCKETS,
)
LEADER = Gauge("gitops_leader", "1 while this replica holds the leader lease.")
KUBE_CONNECTION_ERRORS = Counter(
    "gitops_kubernetes_connection_errors_total",
    "Requests to the Kubernetes API that got no HTTP answer (refused, reset, timed out).",
)
KUBE_EVENTS = Counter(
    "gitops_kubernetes_events_total", "Kubernetes Events recorded.", ["reason"]
)
KUBE_EVENTS_FAILED = Counter(
    "gitops_kubernetes_events_failed_total",
    "Kubernetes Events not written: the API refused them or too many were waiting.", ["cause"],
)

# --- retry ----------------------------------------------------------------------------------
RETRY_ATTEMPTS = Counter(
    "gitops_retry_attempts_total", "Attempts made by retried operations.",
    ["operation", "namespace"],
)
RETRY_SUCCESS = Counter(
    "gitops_retry_success_total", "Retried operations that succeeded.", ["operation", "namespace"]
)
RETRY_FAILURE = Counter(
    "gitops_retry_failure_total", "Retried operations that gave up.", ["operation", "namespace"]
)
RETRY_DURATION = Histogram(
    "gitops_retry_duration_seconds", "Time from first attempt to outcome.",
    ["operation", "namespace"], buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900),
)
CIRCUIT_OPEN = Gauge(
    "gitops_circuit_breaker_open", "1 while a circuit breaker is open.", ["name"]
)

# --- service discovery and Authentik --------------------------------------------------------
DISCOVERY_RECONCILES = Counter(
    "gitops_service_discovery_reconcile_total", "ProxyConfig reconciliations by outcome.",
    ["result"],
)
PROXYCONFIGS = Gauge("gitops_proxyconfigs", "ProxyConfigs by phase.", ["phase"])
AUTHENTIK_REQUESTS = Counter(
    "gitops_authentik_requests_total", "Requests to the Authentik API.", ["endpoint", "code"]
)
AUTHENTIK_DURATION = Histogram(
    "gitops_authentik_request_duration_seconds", "Duration of one Authentik API request.",
    ["endpoint"], buckets=DURATION_BUCKETS,
)
AUTHENTIK_CIRCUIT = Gauge(
    "gitops_authentik_circuit_state",
    "State of the Authentik circuit breaker: 0 closed, 1 open, 2 half-open.",
)
AUTHENTIK_INFO = Info("gitops_authentik", "Version of the Authentik server in use.")
PROXYCONFIG_PHASES = ("Pending", "Ready", "Degraded", "Failed")
DISCOVERY_RESULTS = ("ready", "degraded", "failed", "pending", "deleted", "error")


def initialise() -> None:
    """Create the label sets known at start-up so every series exists from the first scrape."""
    BUILD_INFO.info({"version": __version__})
    for kind in ("completed", "failed"):
        JOBS_CLEANED.labels(type=kind)
    for policy in CLEANUP_POLICIES:
        CYCLE_DURATION.labels(policy=policy)
        DRY_RUN.labels(policy=policy)
        DELETION_LAG.labels(policy=policy)
        BLAST_RADIUS_BLOCKED.labels(policy=policy)
        for reason in CLEANUP_ERROR_REASONS:
            CLEANUP_ERRORS.labels(policy=policy, reason=reason)
    LEADER.set(0)
    for phase in PROXYCONFIG_PHASES:
        PROXYCONFIGS.labels(phase=phase)
    for result in DISCOVERY_RESULTS:
        DISCOVERY_RECONCILES.labels(result=result)
    AUTHENTIK_CIRCUIT.set(0)
