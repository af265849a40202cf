"""Prometheus metrics, one registry per app so two apps in one process never share counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connectors.resilience import CircuitState
from engine.execution import FALLBACK_REASONS, FallbackReason

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._circuits: dict[str, CircuitState] = {}
        # (service, operation) -> its calls, latency and failures children: `labels()`
        # validates and locks on every use, and every upstream call reports here. Bounded:
        # operations are names in the adapters' code, not client input.
        self._upstream_children: dict[tuple[str, str], tuple[Counter, Histogram, Counter]] = {}
        # (method, route, status) -> its latency child, for the same reason: every request
        # reports here. As bounded as the histogram's own children, one per label set.
        self._http_children: dict[tuple[str, str, int], Histogram] = {}
        self.upstream_requests = Counter(
            "omnigate_upstream_requests_total",
            "Calls made to upstream systems.",
            ["service", "operation"],
            registry=self.registry,
        )
        self.upstream_failures = Counter(
            "omnigate_upstream_failures_total",
            "Upstream calls that got no response or a non-2xx status.",
            ["service", "operation"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "omnigate_upstream_request_duration_seconds",
            "Upstream call latency.",
            ["service", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "omnigate_http_request_duration_seconds",
            "Latency of requests to the gateway.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # gateway/telemetry/operation_metrics.py: names bounded per process
        self.graphql_operations = Counter(
            "omnigate_graphql_operations_total",
            "GraphQL operations executed, by type and operation name.",
            ["operation_type", "operation_name"],
            registry=self.registry,
        )
        self.graphql_errors = Counter(
            "omnigate_graphql_errors_total",
            "Errors in GraphQL responses, by extensions.code.",
            ["code"],
            registry=self.registry,
        )
        # connectors/resilience (docs/resilience.md): Metrics is its ResilienceObserver
        self.upstream_retries = Counter(
            "omnigate_upstream_retries_total",
            "Retries sent to upstreams, by the failure that caused them.",
            ["service", "operation", "reason"],
            registry=self.registry,
        )
        self.upstream_retries_refused = Counter(
            "omnigate_upstream_retries_refused_total",
            "Retryable failures not retried: retry budget spent, or no time before the deadline.",
            ["service", "reason"],
            registry=self.registry,
        )
        self.upstream_rejections = Counter(
            "omnigate_upstream_rejected_calls_total",
            "Upstream calls not sent: circuit open, or no concurrency slot before the deadline.",
            ["service", "reason"],
            registry=self.registry,
        )
        self.circuit_state = Gauge(
            "omnigate_upstream_circuit_state",
            "1 for each upstream's current circuit breaker state, 0 for the others.",
            ["service", "state"],
            registry=self.registry,
        )
        self.circuit_transitions = Counter(
            "omnigate_upstream_circuit_transitions_total",
            "Circuit breaker state changes, by the state entered.",
            ["service", "state"],
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "omnigate_cache_lookups_total",
            "Cache lookups by cache and result (hit, miss, error).",
            ["cache", "result"],
            registry=self.registry,
        )
        # gateway/limits/rate_limit.py and gateway/persisted (docs/security.md)
        self.live_subscribers = Gauge(
            "omnigate_live_subscribers",
            "stockChanged and productChanged subscribers this process holds.",
            registry=self.registry,
        )
        self.live_dropped = Counter(
            "omnigate_live_subscribers_dropped_total",
            "Live subscribers dropped (socket closed 4008) for falling behind.",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "omnigate_rate_limited_requests_total",
            "Requests refused with 429 RATE_LIMITED, by principal kind.",
            ["principal"],
            registry=self.registry,
        )
        self.persisted_queries = Counter(
            "omnigate_persisted_queries_total",
            "Persisted query lookups and refusals: hit, miss, registered, not_in_safelist, "
            "hash_mismatch.",
            ["result"],
            registry=self.registry,
        )

        # engine/execution.py: Metrics is the FastExecutionObserver of the app's schema. A
        # child per reason from the start: every reason shows, at 0, before its first use
        self.fast_execution_fallbacks = Counter(
            "omnigate_fast_execution_fallbacks_total",
            "Fields and sub-trees the one-pass executor handed to graphql-core's path, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._fallback_children = {
            reason: self.fast_execution_fallbacks.labels(reason) for reason in FALLBACK_REASONS
        }

    def observe_upstream(
        self, service: str, operation: str, status: int | None, seconds: float
    ) -> None:
        children = self._upstream_children.get((service, operation))
        if children is None:
            children = (
                self.upstream_requests.labels(service, operation),
                self.upstream_latency.labels(service, operation),
                self.upstream_failures.labels(service, operation),
            )
            self._upstream_children[service, operation] = children
        calls, latency, failures = children
        calls.inc()
        latency.observe(seconds)
        if status is None or status >= 400:
            failures.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        child = self._http_children.get((method, route, status))
        if child is None:
            child = self.http_latency.labels(method, route, str(status))
            self._http_children[method, route, status] = child
        child.observe(seconds)

    # commerce.live.feed.LiveObserver

    def live_subscribers_now(self, count: int) -> None:
        self.live_subscribers.set(count)

    def live_subscriber_dropped(self) -> None:
        self.live_dropped.inc()

    def count_cache_lookup(self, cache: str, result: str) -> None:
        self.cache_lookups.labels(cache, result).inc()

    def retried(self, service: str, operation: str, reason: str) -> None:
        self.upstream_retries.labels(service, operation, reason).inc()

    def retry_refused(self, service: str, operation: str, reason: str) -> None:
        self.upstream_retries_refused.labels(service, reason).inc()

    def rejected(self, service: str, operation: str, reason: str) -> None:
        self.upstream_rejections.labels(service, reason).inc()

    def circuit_changed(self, service: str, state: CircuitState) -> None:
        for each in CircuitState:
            self.circuit_state.labels(service, each.value).set(1 if each is state else 0)
        if self._circuits.get(service, state) is not state:  # the first report is no change
            self.circuit_transitions.labels(service, state.value).inc()
        self._circuits[service] = state

    def fast_execution_fell_back(self, reason: FallbackReason) -> None:
        self._fallback_children[reason].inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
