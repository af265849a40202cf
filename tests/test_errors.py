"""Errors as DESIGN.md promises: stable codes, partial data, internals masked."""

from __future__ import annotations

import httpx
import pytest
from fault_proxy import Fault, FaultProxy

from gateway.local_mongod import free_port


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ products(first: 1000) { edges { cursor } } }", "BAD_USER_INPUT"),
        ("{ products(first: -1) { edges { cursor } } }", "BAD_USER_INPUT"),
        ('{ products(after: "not-a-cursor") { edges { cursor } } }', "BAD_USER_INPUT"),
        ('{ products(first: "twenty") { edges { cursor } } }', "GRAPHQL_VALIDATION_FAILED"),
        ("{ products { edges { nope } } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ products(first: 2 { edges", "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_bad_requests_get_a_stable_code(gateway, query, code):
    response = await gateway.http.post("/graphql", json={"query": query})
    assert response.status_code in (200, 400)
    errors = response.json()["errors"]
    assert [error["extensions"]["code"] for error in errors] == [code]


async def test_bad_variable_value_is_bad_user_input(gateway):
    response = await gateway.http.post(
        "/graphql",
        json={
            "query": "query ($n: Int!) { products(first: $n) { edges { cursor } } }",
            "variables": {"n": "many"},
        },
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]


async def test_a_failed_upstream_nulls_only_its_fields(settings, sandbox, make_gateway, dataset):
    down = settings.with_changes(shopify={"base_url": f"http://127.0.0.1:{free_port()}"})
    async with make_gateway(down) as gateway:
        body = await gateway.query(
            "query ($sku: ID!) { product(sku: $sku) { name } stores { id } }",
            {"sku": dataset.products[0].sku},
        )
    assert body["data"]["product"] is None
    assert len(body["data"]["stores"]) == len(dataset.stores)
    [error] = body["errors"]
    assert error["path"] == ["product"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "service": "shopify"}
    assert "127.0.0.1" not in error["message"]


async def test_internal_errors_are_masked(settings, make_gateway, dataset):
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("secret internals at /srv/omnigate")

    client = httpx.AsyncClient(transport=httpx.MockTransport(explode))
    async with client, make_gateway(settings, http_client=client) as gateway:
        body = await gateway.query(
            "query ($sku: ID!) { product(sku: $sku) { name } }", {"sku": dataset.products[0].sku}
        )
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert body["data"] == {"product": None}


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.RESET, "UPSTREAM_UNAVAILABLE"),
        (Fault.CLOSE, "UPSTREAM_UNAVAILABLE"),
        (Fault.HTTP_500, "UPSTREAM_UNAVAILABLE"),
        (Fault.MALFORMED_JSON, "UPSTREAM_UNAVAILABLE"),
        (Fault.THROTTLE_429, "UPSTREAM_THROTTLED"),
    ],
)
async def test_a_broken_inventory_upstream_nulls_availability_only(
    settings, sandbox, make_gateway, dataset, fault, code
):
    """Through the gateway's real transport: a reset is the service failing, not a timeout."""
    query = "query ($sku: ID!) { product(sku: $sku) { name availability { online { quantity } } } }"
    proxy = FaultProxy(sandbox.url("square"))
    async with proxy, make_gateway(settings.with_changes(square={"base_url": proxy.url})) as gw:
        warm = await gw.query(query, {"sku": dataset.products[1].sku})
        assert "errors" not in warm  # stores and the SKU mapping are cached now
        proxy.set(fault)
        body = await gw.query(query, {"sku": dataset.products[2].sku})
    assert body["data"]["product"]["name"] == dataset.products[2].title
    assert body["data"]["product"]["availability"] is None
    [error] = body["errors"]
    assert error["path"] == ["product", "availability"]
    assert error["extensions"] == {"code": code, "service": "square"}


def test_errors_of_every_transport_are_shaped_and_masked_by_the_schema():
    """Subscription events skip extensions' on_operation; the schema's process_errors still
    shapes them, so a websocket never sees an internal message."""
    from graphql import GraphQLError

    from gateway.wiring.schema import build_schema

    errors = [GraphQLError("boom", original_error=RuntimeError("secret detail"))]
    build_schema().process_errors(errors)
    assert errors[0].message == "Unexpected error."
    assert errors[0].extensions == {"code": "INTERNAL_SERVER_ERROR"}
