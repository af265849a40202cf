"""Traces: one trace per request from the server span down to every upstream and MongoDB
call, with `traceparent` and `X-Request-Id` on what goes out; captured by the SDK's
in-memory exporter. Tracing is off unless configured."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import bearer, running_gateway
from fault_proxy import FaultProxy, behind_proxies, proxies_in_front_of
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.app import create_app
from gateway.logging_setup import handler
from gateway.settings import Settings
from gateway.telemetry import Tracing, tracing_from_settings

PROFILE = """
query CustomerCard($id: ID!) {
  customer(id: $id) { id email loyalty { balance } }
}
"""
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
VENDORS = ("square", "shopify", "salesforce")


@pytest.fixture(scope="module")
def proxies(sandbox) -> Iterator[dict[str, FaultProxy]]:
    with proxies_in_front_of({vendor: sandbox.url(vendor) for vendor in VENDORS}) as running:
        yield running


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, owned=False)


@asynccontextmanager
async def traced_gateway(settings: Settings, tracing: Tracing) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, tracing=tracing)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


def by_id(spans: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans}


def ancestors(span: ReadableSpan, index: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in index:
        span = index[span.parent.span_id]
        names.append(span.name)
    return names


async def test_a_query_is_one_trace_from_the_server_span_to_upstream_and_mongodb(
    settings, proxies, tokens, dataset, tracing, exporter
):
    contact = dataset.crm_contacts[0]
    headers = {
        **bearer(tokens.staff(dataset.stores[0].id)),
        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
    }
    async with traced_gateway(behind_proxies(settings, proxies), tracing) as client:
        exporter.clear()
        response = await client.post(
            "/graphql", json={"query": PROFILE, "variables": {"id": contact.id}}, headers=headers
        )
        spans = exporter.get_finished_spans()
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["id"] == contact.id
    # background work (profile refreshes, the CRM poll) has traces of its own
    spans = tuple(s for s in spans if format(s.context.trace_id, "032x") == CALLER_TRACE)
    index = by_id(spans)

    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "POST /graphql"
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    assert server.parent.is_remote
    assert server.attributes["http.response.status_code"] == 200
    (operation,) = [s for s in spans if s.name == "query CustomerCard"]
    assert operation.parent.span_id == server.context.span_id
    assert operation.attributes["graphql.operation.name"] == "CustomerCard"
    (resolver,) = [s for s in spans if s.name == "resolve Query.customer"]
    assert resolver.parent.span_id == operation.context.span_id
    assert resolver.attributes["graphql.field.path"] == "customer"

    upstream = [s for s in spans if s.kind is SpanKind.CLIENT and "peer.service" in s.attributes]
    assert {s.attributes["peer.service"] for s in upstream} == set(VENDORS)
    for span in upstream:
        chain = ancestors(span, index)
        assert chain[-3:] == ["resolve Query.customer", "query CustomerCard", "POST /graphql"]
        assert span.attributes["http.response.status_code"] == 200
        assert "?" not in span.attributes["url.full"]  # SOQL carries the email looked up
    mongo = [s for s in spans if s.attributes.get("db.system") == "mongodb"]
    assert mongo, [s.name for s in spans]
    assert all("query CustomerCard" in ancestors(s, index) for s in mongo)

    # what went out: each upstream request carries its own client span's context
    request_id = response.headers["x-request-id"]
    sent = [
        h
        for proxy in proxies.values()
        for h in proxy.headers_seen
        if CALLER_TRACE in h.get("traceparent", "")
    ]
    assert len(sent) == len(upstream)
    client_spans = {format(s.context.span_id, "016x") for s in upstream}
    for outgoing in sent:
        version, trace_id, parent_id, flags = outgoing["traceparent"].split("-")
        assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
        assert parent_id in client_spans
        assert outgoing["x-request-id"] == request_id


PAGE = "query Page { products(first: 3) { nodes { sku availability { online { quantity } } } } }"


@pytest.mark.parametrize("fast", [True, False])
async def test_a_prefetched_field_gets_no_span_on_the_fast_path(settings, tracing, exporter, fast):
    async with traced_gateway(
        settings.with_changes(graphql={"fast_execution": fast}), tracing
    ) as client:
        exporter.clear()
        response = await client.post("/graphql", json={"query": PAGE})
        spans = exporter.get_finished_spans()
    assert response.status_code == 200
    assert "errors" not in response.json()
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    spans = tuple(s for s in spans if s.context.trace_id == server.context.trace_id)
    index = by_id(spans)
    # the page's one stock call is the products resolver's: that is where its time shows
    stock = [s for s in spans if s.attributes.get("peer.service") == "square"]
    assert stock
    assert all("resolve Query.products" in ancestors(s, index) for s in stock)
    # the fast path answers each product's availability from what the page prefetched:
    # the resolver, and so its span, runs only on graphql-core's path
    availability = [s for s in spans if s.name == "resolve Product.availability"]
    assert len(availability) == (0 if fast else 3)


async def test_an_upstream_failure_marks_its_spans_and_the_operation(
    settings, proxies, tokens, dataset, tracing, exporter
):
    from fault_proxy import Fault

    contact = dataset.crm_contacts[1]
    staff = bearer(tokens.staff(dataset.stores[0].id))
    gateway_settings = behind_proxies(settings, proxies, upstreams={"salesforce": {"retries": 0}})
    async with traced_gateway(gateway_settings, tracing) as client:
        proxies["salesforce"].set(Fault.HTTP_500)
        exporter.clear()
        response = await client.post(
            "/graphql", json={"query": PROFILE, "variables": {"id": contact.id}}, headers=staff
        )
        proxies["salesforce"].set(Fault.PASS)
    assert response.status_code == 200
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    spans = exporter.get_finished_spans()
    (operation,) = [s for s in spans if s.name == "query CustomerCard"]
    assert operation.status.status_code is StatusCode.ERROR
    assert set(operation.attributes["omnigate.graphql.error_codes"]) == codes
    failed = [s for s in spans if s.attributes.get("peer.service") == "salesforce"]
    assert failed
    assert all(s.status.status_code is StatusCode.ERROR for s in failed)
    assert {s.attributes["http.response.status_code"] for s in failed} == {500}


async def test_probes_and_scrapes_are_not_traced(settings, tracing, exporter):
    async with traced_gateway(settings, tracing) as client:
        exporter.clear()
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200
    assert [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER] == []


def test_tracing_is_off_unless_an_otlp_endpoint_is_configured(settings):
    assert tracing_from_settings(settings) is None
    configured = settings.with_changes(
        telemetry={"otlp_endpoint": "http://collector.invalid:4318/", "sampling_ratio": 0.25}
    )
    tracing = tracing_from_settings(configured)
    assert tracing is not None
    try:
        provider = tracing.provider
        assert provider.resource.attributes["service.name"] == "omnigate"
        assert "0.25" in provider.sampler.get_description()
        assert configured.telemetry.otlp_endpoint == "http://collector.invalid:4318"
    finally:
        provider.shutdown()


class OtlpReceiver(ThreadingHTTPServer):
    """An OTLP/HTTP collector on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.exports: list[tuple[str, dict[str, str], bytes]] = []
        super().__init__(("127.0.0.1", 0), _OtlpHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.exports.append(
            (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join()


async def test_a_configured_otlp_endpoint_receives_the_traces(
    settings, proxies, dataset, otlp_receiver
):
    """No tracer handed in: the app builds its own from the settings, exports by OTLP/HTTP
    (protobuf) with the configured headers, and flushes what is left when it stops."""
    configured = behind_proxies(
        settings,
        proxies,
        telemetry={
            "otlp_endpoint": otlp_receiver.url,
            "otlp_headers": {"x-collector-key": "key-42"},
            "service_name": "omnigate-test",
        },
    )
    app = create_app(configured)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": "query Name($sku: ID!) { product(sku: $sku) { name } }",
                    "variables": {"sku": dataset.products[0].sku},
                },
            )
            assert response.status_code == 200, response.text
    # the lifespan has ended: the batch processor was flushed on the way out

    assert otlp_receiver.exports, "nothing was exported"
    spans: dict[str, list[tuple[bytes, str]]] = {}
    for path, headers, body in otlp_receiver.exports:
        assert path == "/v1/traces"
        assert headers["content-type"] == "application/x-protobuf"
        assert headers["x-collector-key"] == "key-42"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.setdefault(span.name, []).append(
                        (span.trace_id, resource["service.name"])
                    )
    assert {"POST /graphql", "query Name", "POST shopify.products_by_sku"} <= set(spans), sorted(
        spans
    )
    ((server_trace, service),) = spans["POST /graphql"]
    assert service == "omnigate-test"
    assert spans["query Name"] == [(server_trace, service)]
    assert all(trace_id == server_trace for trace_id, _ in spans["POST shopify.products_by_sku"])


async def test_log_lines_and_upstream_calls_carry_the_request_id_without_tracing(
    settings, proxies, dataset
):
    """Tracing off: every upstream request still carries the request id, and a JSON log line
    written while the request ran names it. An id the caller sends is kept if it is safe."""
    from fault_proxy import Fault

    stream = io.StringIO()
    root = logging.getLogger()
    log_handler = handler("json", stream)
    root.addHandler(log_handler)
    gateway_settings = behind_proxies(settings, proxies, upstreams={"shopify": {"retries": 0}})
    try:
        async with running_gateway(gateway_settings) as gateway:
            proxies["shopify"].set(Fault.HTTP_500)
            response = await gateway.http.post(
                "/graphql",
                json={
                    "query": "query Name($sku: ID!) { product(sku: $sku) { name } }",
                    "variables": {"sku": dataset.products[0].sku},
                },
                headers={"X-Request-Id": "ingress-4f2a.17"},
            )
            proxies["shopify"].set(Fault.PASS)
            forged = await gateway.http.get("/healthz", headers={"X-Request-Id": "bad id\tx"})
    finally:
        root.removeHandler(log_handler)

    assert response.headers["x-request-id"] == "ingress-4f2a.17"
    assert response.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    sent = proxies["shopify"].headers_seen
    assert sent
    assert {h.get("x-request-id") for h in sent} == {"ingress-4f2a.17"}
    assert all("traceparent" not in h for h in sent)  # no spans, no trace context made up
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    upstream_failure = [line for line in lines if "upstream failure" in line["message"]]
    assert upstream_failure, lines
    for line in upstream_failure:
        assert line["request_id"] == "ingress-4f2a.17"
        assert line["level"] == "WARNING"
        assert {"time", "logger", "trace_id", "span_id"} <= set(line)
    # an unsafe id is replaced, never echoed into headers or logs
    replaced = forged.headers["x-request-id"]
    assert replaced != "bad id\tx"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
