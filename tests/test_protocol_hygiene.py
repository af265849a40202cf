"""Protocol hygiene on /graphql: body size, batching, CSRF, introspection and suggestions.
Every refusal is GraphQL-shaped JSON with a stable code, and none reaches an upstream."""

from __future__ import annotations

import json

import pytest
from graphql import get_introspection_query

from gateway.limits import OperationLimits
from gateway.settings import Environment, LimitsSettings
from gateway.wiring.schema import build_schema

UPSTREAMS = ("square", "shopify", "salesforce")
PRODUCT_QUERY = "{ products(first: 1) { edges { node { sku } } } }"


def _code(response) -> str:
    [error] = response.json()["errors"]
    return error["extensions"]["code"]


def _no_upstream_calls(sandbox) -> bool:
    return all(sandbox.total_calls(vendor) == 0 for vendor in UPSTREAMS)


async def test_a_body_over_the_limit_is_refused_with_413_before_parsing(gateway, sandbox):
    padding = " " * (64 * 1024)
    response = await gateway.http.post("/graphql", json={"query": PRODUCT_QUERY + padding})
    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    assert "65536" in response.json()["errors"][0]["message"]
    assert _no_upstream_calls(sandbox)


async def test_a_streamed_body_without_length_is_counted_as_it_arrives(gateway, sandbox):
    sent = 0

    async def chunks():
        nonlocal sent
        yield b'{"query": "' + PRODUCT_QUERY.encode() + b'", "x": "'
        for _ in range(1000):  # 8 MB if it were all read
            sent += 1
            yield b"x" * 8192

    response = await gateway.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    assert sent < 20  # refused at the chunk that crossed 64 KiB, the rest never pulled
    assert _no_upstream_calls(sandbox)


async def test_a_body_under_a_configured_limit_passes(settings, make_gateway):
    async with make_gateway(settings.with_changes(limits={"max_body_bytes": 200})) as gateway:
        assert "errors" not in await gateway.query("{ __typename }")
        response = await gateway.http.post("/graphql", json={"query": "{ __typename }" + " " * 200})
        assert response.status_code == 413


async def test_a_batch_is_refused_with_a_clear_error(gateway, sandbox):
    response = await gateway.http.post(
        "/graphql", json=[{"query": PRODUCT_QUERY}, {"query": PRODUCT_QUERY}]
    )
    assert response.status_code == 400
    assert _code(response) == "BATCHING_NOT_ENABLED"
    assert "one operation per request" in response.json()["errors"][0]["message"]
    assert _no_upstream_calls(sandbox)


async def test_other_http_refusals_carry_a_code_too(gateway):
    response = await gateway.http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "not a mime type",
    ],
)
async def test_a_simple_post_is_refused_as_csrf(gateway, sandbox, content_type):
    response = await gateway.http.post(
        "/graphql",
        content=json.dumps({"query": PRODUCT_QUERY}),
        headers={"content-type": content_type},
    )
    assert response.status_code == 400
    assert _code(response) == "CSRF_PREVENTED"
    assert _no_upstream_calls(sandbox)


async def test_a_get_query_needs_a_preflight_header(gateway, sandbox):
    params = {"query": PRODUCT_QUERY}
    refused = await gateway.http.get("/graphql", params=params)
    assert refused.status_code == 400
    assert _code(refused) == "CSRF_PREVENTED"
    empty = await gateway.http.get(
        "/graphql", params=params, headers={"apollo-require-preflight": ""}
    )
    assert empty.status_code == 400
    assert _no_upstream_calls(sandbox)
    for header in ("x-apollo-operation-name", "apollo-require-preflight", "x-omnigate-csrf"):
        response = await gateway.http.get("/graphql", params=params, headers={header: "1"})
        assert response.status_code == 200, header
        assert response.json()["data"]["products"]["edges"]


async def test_a_simple_post_with_a_preflight_header_and_a_json_post_pass(gateway):
    response = await gateway.http.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }"}),
        headers={"content-type": "text/plain", "x-omnigate-csrf": "1"},
    )
    assert response.status_code != 400 or _code(response) != "CSRF_PREVENTED"
    assert (await gateway.query("{ __typename }"))["data"] == {"__typename": "Query"}


async def test_the_graphiql_page_is_still_served_on_a_plain_get(gateway):
    response = await gateway.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_csrf_prevention_can_be_switched_off(settings, make_gateway):
    async with make_gateway(settings.with_changes(limits={"csrf_prevention": False})) as gateway:
        response = await gateway.http.get("/graphql", params={"query": "{ __typename }"})
        assert response.status_code == 200


def test_production_turns_introspection_and_suggestions_off_by_default():
    production = OperationLimits.from_settings(LimitsSettings(), Environment.PRODUCTION)
    assert (production.introspection, production.suggestions) == (False, False)
    for env in (Environment.DEVELOPMENT, Environment.TEST):
        limits = OperationLimits.from_settings(LimitsSettings(), env)
        assert (limits.introspection, limits.suggestions) == (True, True)


@pytest.mark.parametrize(
    "document",
    [
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Product") { fields { name } } }',
        get_introspection_query(),
    ],
)
async def test_production_schema_refuses_introspection(document):
    schema = build_schema(OperationLimits.from_settings(LimitsSettings(), Environment.PRODUCTION))
    result = await schema.execute(document)
    assert result.data is None
    assert result.errors
    assert {e.extensions["code"] for e in result.errors} == {"INTROSPECTION_DISABLED"}


# each misspelling is one letter off a real name, so graphql-core would suggest it
MISSPELLINGS = [
    ("{ products { edges { node { skuu } } } }", "sku"),
    ("{ products(frist: 1) { edges { cursor } } }", "first"),
    ("{ products { ... on ProductConection { __typename } } }", "ProductConnection"),
]


@pytest.mark.parametrize(("document", "real_name"), MISSPELLINGS)
async def test_suggestions_are_given_in_development(gateway, document, real_name):
    [error] = (await gateway.query(document))["errors"]
    assert "Did you mean" in error["message"]
    assert real_name in error["message"]


@pytest.mark.parametrize(("document", "real_name"), MISSPELLINGS)
async def test_suggestions_are_hidden_when_off(settings, make_gateway, document, real_name):
    quiet = settings.with_changes(limits={"field_suggestions": False, "introspection": False})
    async with make_gateway(quiet) as gateway:
        [error] = (await gateway.query(document))["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in error["message"]
    assert f"'{real_name}'" not in error["message"]


async def test_introspection_off_is_refused_over_http(settings, make_gateway):
    quiet = settings.with_changes(limits={"introspection": False})
    async with make_gateway(quiet) as gateway:
        body = await gateway.query(get_introspection_query())
    assert body.get("data") is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"INTROSPECTION_DISABLED"}
