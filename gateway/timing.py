"""Request latency into `omnigate_http_request_duration_seconds`, as plain ASGI middleware
(cheaper than BaseHTTPMiddleware on the hot path)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import Metrics

# Fixed route labels keep the metric's cardinality bounded whatever paths clients try.
_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


class RequestTiming:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            path = scope["path"]
            route = path if path in _ROUTES else "other"
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - started
            )
