"""The app's tracer provider: built from settings when an OTLP endpoint is configured, or
handed in (tests give one with an in-memory exporter). None means tracing is off, and then
nothing of the SDK is even imported.

The provider is the app's, not the process's global one: two apps in one process (tests)
never share spans, and nothing outside the gateway's own instrumentation records any.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import socket
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway import DISTRIBUTION

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from gateway.settings import Settings

INSTRUMENTATION = "omnigate"
# W3C trace context only: baggage a client sends is not forwarded to the vendors.
PROPAGATOR = TraceContextTextMapPropagator()
# An export that cannot reach the collector gives up this soon, so a collector outage never
# holds a shutdown past its grace period.
EXPORT_TIMEOUT_SECONDS = 5


def _version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "0+unknown"


VERSION = _version()


class Tracing:
    def __init__(self, provider: TracerProvider, *, owned: bool) -> None:
        """`owned`: this app built the provider and shuts it down (flushing what is left)."""
        self.provider = provider
        self._owned = owned

    def tracer(self, name: str = INSTRUMENTATION) -> trace.Tracer:
        return self.provider.get_tracer(name, VERSION)

    async def shutdown(self) -> None:
        if self._owned:
            # flushes the batch processor's queue: blocking I/O, kept off the event loop
            await asyncio.to_thread(self.provider.shutdown)


def tracing_from_settings(settings: Settings) -> Tracing | None:
    telemetry = settings.telemetry
    if telemetry.otlp_endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    # OTEL_RESOURCE_ATTRIBUTES (e.g. the pod's name from the downward API) is merged in;
    # these take precedence.
    resource = Resource.create(
        {
            "service.name": telemetry.service_name,
            "service.version": VERSION,
            "service.instance.id": f"{socket.gethostname()}/{os.getpid()}",
            "deployment.environment.name": settings.env.value,
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(telemetry.sampling_ratio))
    )
    exporter = OTLPSpanExporter(
        endpoint=f"{telemetry.otlp_endpoint}/v1/traces",
        headers={name: value.get_secret_value() for name, value in telemetry.otlp_headers.items()},
        timeout=EXPORT_TIMEOUT_SECONDS,
    )
    provider.add_span_processor(
        BatchSpanProcessor(exporter, export_timeout_millis=EXPORT_TIMEOUT_SECONDS * 1000)
    )
    return Tracing(provider, owned=True)
