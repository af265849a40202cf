"""A CLIENT span per MongoDB command, from pymongo's command monitoring.

The listener is given to the app's own client (`event_listeners`), not registered with
pymongo globally as PymongoInstrumentor does: other clients in the process (tests, the
CLI) record nothing. Statements are not captured: a filter holds customers' emails and
phone numbers.
"""

from __future__ import annotations

from pymongo.monitoring import CommandListener

from gateway.telemetry.tracing import Tracing


def mongo_listeners(tracing: Tracing | None) -> list[CommandListener]:
    if tracing is None:
        return []
    from opentelemetry.instrumentation.pymongo import CommandTracer

    return [CommandTracer(tracing.tracer("omnigate.mongodb"), capture_statement=False)]
