"""Per-process metrics: CPU, memory, open files and start time (prometheus_client's
`process_*`), and which gateway process answered the scrape (`omnigate_process_info`)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector

from gateway.telemetry.tracing import VERSION


def register_process_metrics(registry: CollectorRegistry) -> None:
    ProcessCollector(registry=registry)
    info = Gauge(
        "omnigate_process_info",
        "1 for the gateway process that answered: its pid (several with `serve --workers`) "
        "and version.",
        ["pid", "version"],
        registry=registry,
    )
    info.labels(str(os.getpid()), VERSION).set(1)
