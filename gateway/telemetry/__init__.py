"""OpenTelemetry traces (docs/operations.md "Traces"): the HTTP request's server span, the
GraphQL operation and its asynchronous resolvers, every upstream and MongoDB call; and
what goes out with each upstream request (request id, trace context). Off by default."""

from gateway.telemetry.graphql_spans import GraphQLOperationSpan, instrument_schema
from gateway.telemetry.mongo_spans import mongo_listeners
from gateway.telemetry.operation_metrics import OperationCounter
from gateway.telemetry.process_metrics import register_process_metrics
from gateway.telemetry.server_spans import ServerSpans
from gateway.telemetry.tracing import PROPAGATOR, Tracing, tracing_from_settings
from gateway.telemetry.upstream import PropagatingTransport

__all__ = [
    "PROPAGATOR",
    "GraphQLOperationSpan",
    "OperationCounter",
    "PropagatingTransport",
    "ServerSpans",
    "Tracing",
    "instrument_schema",
    "mongo_listeners",
    "register_process_metrics",
    "tracing_from_settings",
]
