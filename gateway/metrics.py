"""Prometheus metrics, one registry per app so two apps in one process never share counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.cache_lookups = Counter(
            "omnigate_cache_lookups_total",
            "Cache lookups by cache and result (hit, miss, error).",
            ["cache", "result"],
            registry=self.registry,
        )

    def observe_upstream(
        self, service: str, operation: str, status: int | None, seconds: float
    ) -> None:
        self.upstream_requests.labels(service, operation).inc()
        self.upstream_latency.labels(service, operation).observe(seconds)
        if status is None or status >= 400:
            self.upstream_failures.labels(service, operation).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
