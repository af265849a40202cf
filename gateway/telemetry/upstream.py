"""What every upstream request carries, at the transport under the shared httpx client:
the request id (`X-Request-Id`) always, and with tracing a CLIENT span per attempt whose
context goes out as `traceparent`.

At the transport because that is under everything that calls out: each retry of a
connector call (its own span, so a retried call shows as several), the Salesforce token
fetch, JWKS fetches. Whatever transport is below (aiohttp by default) is wrapped the same.
The connector's service and operation names ride in the request's extensions
(connectors/http.py); calls made outside a connector are named by method and host.

The span ends when the response headers are in; reading the body is the caller's time.
`url.full` leaves the query string out: a Salesforce SOQL query carries the email or phone
number it looks up.
"""

from __future__ import annotations

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from connectors.http import UPSTREAM_CALL
from gateway.request_id import HEADER, current_request_id
from gateway.telemetry.tracing import PROPAGATOR


class PropagatingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, tracer: trace.Tracer | None) -> None:
        self.inner = inner
        self.tracer = tracer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request_id = current_request_id.get()
        if request_id is not None:
            request.headers[HEADER] = request_id
        if self.tracer is None:
            return await self.inner.handle_async_request(request)
        url = request.url
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "server.address": url.host,
            "url.full": str(url.copy_with(query=None, fragment=None)),
        }
        if url.port is not None:
            attributes["server.port"] = url.port
        call = request.extensions.get(UPSTREAM_CALL)
        if call is not None:
            service, operation = call
            attributes["peer.service"] = service
            attributes["omnigate.upstream.operation"] = operation
            name = f"{request.method} {operation}"
        else:
            name = f"{request.method} {url.host}"
        with self.tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            PROPAGATOR.inject(request.headers)
            try:
                response = await self.inner.handle_async_request(request)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise
            status = response.status_code
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(status))
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()
