"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import socket


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
