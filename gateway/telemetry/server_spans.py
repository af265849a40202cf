"""A SERVER span per HTTP request, continuing the caller's trace (`traceparent`).

Plain ASGI middleware rather than opentelemetry-instrumentation-asgi: that one records the
query string (a GET /graphql carries the variables there, customers' emails included) and
two more spans per request for the ASGI send and receive events. Here the attributes are
the stable HTTP semantic conventions minus anything a client wrote into the URL.

Probes and scrapes (/healthz, /readyz, /metrics) are not traced: they would be most of the
traces and say nothing. Websockets are not either: a span as long as a connection is not
something trace backends show usefully.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.request_id import current_request_id
from gateway.telemetry.tracing import PROPAGATOR

UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})
# Fixed route names keep span names few whatever paths clients try.
ROUTES = frozenset({"/graphql", "/webhooks/square", "/webhooks/shopify"})
_CONTEXT_HEADERS = frozenset(name.encode("ascii") for name in PROPAGATOR.fields)


class ServerSpans:
    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] = {}
        user_agent = None
        for name, value in scope["headers"]:
            if name in _CONTEXT_HEADERS:
                carrier[name.decode("ascii")] = value.decode("latin-1")
            elif name == b"user-agent":
                user_agent = value.decode("latin-1")
        method = scope["method"]
        path = scope["path"]
        route = path if path in ROUTES else None
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.scheme": scope.get("scheme", "http"),
            "url.path": path,
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        if route is not None:
            attributes["http.route"] = route
        if (client := scope.get("client")) is not None:
            attributes["client.address"] = client[0]
        if user_agent is not None:
            attributes["user_agent.original"] = user_agent
        if (request_id := current_request_id.get()) is not None:
            attributes["http.request.header.x-request-id"] = request_id
        with self.tracer.start_as_current_span(
            f"{method} {route}" if route else method,
            context=PROPAGATOR.extract(carrier),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:  # a 4xx is the client's error, not the server's
                        span.set_status(Status(StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))
                await send(message)

            await self.app(scope, receive, send_traced)
