"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import json
import re
import socket

from gateway.telemetry.operation_metrics import OperationNames


async def test_healthz_answers_without_checking_dependencies(gateway):
    response = await gateway.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_with_mongodb_up(gateway):
    response = await gateway.http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["mongodb"] == "ok"


async def test_readyz_is_unavailable_without_mongodb(settings, make_gateway):
    # A MongoDB that accepts connections and never answers. (A refused port would do too,
    # but pymongo's async client then sometimes leaves a socket to the garbage collector,
    # whose ResourceWarning fails whichever test is running when it is collected.)
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(16)
        port = black_hole.getsockname()[1]
        unreachable = settings.with_changes(
            mongodb_uri=f"mongodb://127.0.0.1:{port}/?directConnection=true",
            mongodb_timeout_seconds=0.3,
        )
        async with make_gateway(unreachable) as gateway:
            response = await gateway.http.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"]["mongodb"] == "unreachable"
            assert (await gateway.http.get("/healthz")).status_code == 200


async def test_metrics_count_upstream_calls_by_service_and_operation(gateway, dataset):
    await gateway.query(
        "query ($sku: ID!) { product(sku: $sku) { availability { online { quantity } } } }",
        {"sku": dataset.products[0].sku},
    )
    response = await gateway.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    samples = [
        line for line in text.splitlines() if line.startswith("omnigate_upstream_requests_total{")
    ]
    services = {line.split('service="')[1].split('"')[0] for line in samples}
    assert {"shopify", "square"} <= services
    assert all(float(line.rsplit(" ", 1)[1]) >= 1 for line in samples)
    assert (
        'omnigate_http_request_duration_seconds_count{method="POST",route="/graphql",status="200"}'
        in text
    )


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """One sample's value (labels in the exposition's order, which is sorted by name here),
    0 when the series does not exist yet."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.compile(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", re.M)
    match = pattern.search(metrics_text)
    return float(match.group(1)) if match else 0.0


async def metrics_text(gateway) -> str:
    response = await gateway.http.get("/metrics")
    assert response.status_code == 200
    return str(response.text)


async def test_metrics_count_operations_by_name_and_errors_by_code(gateway, dataset):
    sku = dataset.products[0].sku
    before = await metrics_text(gateway)

    named = await gateway.query(
        "query ProductName($sku: ID!) { product(sku: $sku) { name } }", {"sku": sku}
    )
    assert "errors" not in named
    anonymous = await gateway.query("{ product(sku: " + json.dumps(sku) + ") { sku } }")
    assert "errors" not in anonymous
    invalid = await gateway.query("query Broken { nope }")
    assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    unparsed = await gateway.query("{ product(", status=200)
    assert unparsed["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"

    after = await metrics_text(gateway)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    operations = "omnigate_graphql_operations_total"
    assert delta(operations, operation_name="ProductName", operation_type="query") == 1
    assert delta(operations, operation_name="(anonymous)", operation_type="query") == 1
    assert delta(operations, operation_name="Broken", operation_type="query") == 1
    assert delta(operations, operation_name="(anonymous)", operation_type="(unknown)") == 1
    errors = "omnigate_graphql_errors_total"
    assert delta(errors, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert delta(errors, code="GRAPHQL_PARSE_FAILED") == 1
    assert delta(errors, code="INTERNAL_SERVER_ERROR") == 0


async def test_metrics_count_upstream_errors_by_the_code_clients_see(
    settings, make_gateway, dataset
):
    # Shopify is unreachable: a refused port answers at once, so the field fails fast
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = settings.with_changes(
        shopify={"base_url": f"http://127.0.0.1:{port}"}, upstreams={"all": {"retries": 0}}
    )
    async with make_gateway(down) as gateway:
        body = await gateway.query(
            "query Name($sku: ID!) { product(sku: $sku) { name } }",
            {"sku": dataset.products[0].sku},
        )
        text = await metrics_text(gateway)
    codes = [error["extensions"]["code"] for error in body["errors"]]
    assert codes == ["UPSTREAM_UNAVAILABLE"]
    assert sample(text, "omnigate_graphql_errors_total", code="UPSTREAM_UNAVAILABLE") == 1
    failures = [
        line
        for line in text.splitlines()
        if line.startswith("omnigate_upstream_failures_total{") and 'service="shopify"' in line
    ]
    assert failures, text


def test_operation_names_are_bounded_per_process():
    names = OperationNames(limit=2)
    assert [names.label(n) for n in ("A", "B", "C", "A", None, "")] == [
        "A",
        "B",
        "(other)",
        "A",
        "(anonymous)",
        "(anonymous)",
    ]


async def test_metrics_expose_what_operators_watch(gateway, dataset, tokens):
    """Every family docs/operations.md names, with samples once traffic has passed: HTTP
    requests, operations, errors, upstream calls and latency by service, cache lookups and
    each breaker's state."""
    staff = {"Authorization": f"Bearer {tokens.staff(dataset.stores[0].id)}"}
    query = "query Card($id: ID!) { customer(id: $id) { id } }"
    contact = dataset.crm_contacts[3].id
    await gateway.query(query, {"id": contact}, headers=staff)
    await gateway.query(query, {"id": contact}, headers=staff)
    text = await metrics_text(gateway)

    for service in ("square", "shopify", "salesforce"):
        assert sample(text, "omnigate_upstream_circuit_state", service=service, state="closed") == 1
        assert sample(text, "omnigate_upstream_circuit_state", service=service, state="open") == 0
    assert sample(text, "omnigate_cache_lookups_total", cache="profile", result="miss") == 1
    assert sample(text, "omnigate_cache_lookups_total", cache="profile", result="hit") == 1
    latency = [
        line
        for line in text.splitlines()
        if line.startswith("omnigate_upstream_request_duration_seconds_count{")
    ]
    assert {line.split('service="')[1].split('"')[0] for line in latency} == {
        "square",
        "shopify",
        "salesforce",
    }
    assert (
        sample(
            text, "omnigate_graphql_operations_total", operation_name="Card", operation_type="query"
        )
        == 2
    )
    for family in (
        "omnigate_http_request_duration_seconds",
        "omnigate_graphql_operations_total",
        "omnigate_graphql_errors_total",
        "omnigate_upstream_requests_total",
        "omnigate_upstream_failures_total",
        "omnigate_upstream_request_duration_seconds",
        "omnigate_cache_lookups_total",
        "omnigate_upstream_circuit_state",
        "omnigate_fast_execution_fallbacks_total",
        "omnigate_process_info",
        "process_cpu_seconds_total",
    ):
        assert f"# TYPE {family} " in text, family
