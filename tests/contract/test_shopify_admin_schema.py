"""The Shopify adapter and the Shopify simulator against Shopify's official Admin GraphQL
schema for the pinned API version (`make install` fetches it: tools/shopify_admin_schema.py).

- Every GraphQL document in connectors/shopify validates against the schema.
- Driven through the gateway (a product page, a product read, a signed-in customer's
  profile and orders, a paid web checkout, that order looked up by id and by number)
  against the sandbox over loopback, every request the adapter sends carries variables
  the schema accepts for its document, and every answer the simulator gives is one the
  schema allows for it: each answer is run
  back through the document on the official schema (graphql-core's executor, reading
  each field from the answer by its response key), which fails on a missing non-null
  field, a list where an object belongs, an unknown enum value, a scalar of the wrong
  kind, and gives back exactly the answer.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from cart_api import (
    CARD_OK,
    CART_CREATE,
    CHECKOUT,
    Device,
    known_everywhere,
    online_skus,
    person_with_both_channels,
    staff_at,
    stocked_skus,
)
from conftest import REPO_ROOT, bearer
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.execution.values import get_variable_values
from shopify_admin import SCHEMA_FILE, official_admin_schema

import connectors.shopify
from gateway.http_transport import UpstreamClient
from sandbox.shopify.resolvers import admin_schema as simulator_schema
from sandbox.shopify.retail import location_gid


@pytest.fixture(scope="module")
def admin_schema() -> GraphQLSchema:
    return official_admin_schema()


def adapter_documents() -> dict[str, DocumentNode]:
    """Every module-level string of connectors/shopify that is a GraphQL operation."""
    found = {}
    for module_info in pkgutil.iter_modules(connectors.shopify.__path__):
        module = importlib.import_module(f"connectors.shopify.{module_info.name}")
        for name, value in vars(module).items():
            if not isinstance(value, str) or "{" not in value:
                continue
            try:
                document = parse(value)
            except GraphQLSyntaxError:
                continue
            if any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
                found[f"{module_info.name}.{name}"] = document
    return found


def test_every_document_of_the_adapter_validates(admin_schema: GraphQLSchema) -> None:
    documents = adapter_documents()
    # the adapter's reads and its order placement, at least
    assert {"documents.PRODUCTS_BY_SKU", "documents.PLACE_ORDER", "check.CHECK"} <= set(documents)
    problems = {
        name: [error.message for error in validate(admin_schema, document)]
        for name, document in documents.items()
    }
    assert {name: errors for name, errors in problems.items() if errors} == {}


class ShopifyTraffic(httpx.AsyncBaseTransport):
    """Passes every call on; keeps each Admin GraphQL request with its answer."""

    def __init__(self, path: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.path = path
        self.exchanges: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == self.path:
            body = await response.aread()
            self.exchanges.append((json.loads(request.content), json.loads(body)))
            return httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def by_response_key(source: Any, info: Any, **_: Any) -> Any:
    return source.get(info.path.key) if isinstance(source, Mapping) else None


def by_fields(value: Any, info: Any, abstract: GraphQLAbstractType) -> str | None:
    """The object type of an answer's value at an interface or union: its `__typename` if
    it has one, else the first possible type that has every field the value carries (an
    empty value, a fragment that did not apply, fits any)."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("__typename"), str):
        return str(value["__typename"])
    for possible in info.schema.get_possible_types(abstract):
        if all(key in possible.fields for key in value):
            return str(possible.name)
    return None


def answer_problems(
    schema: GraphQLSchema, sent: dict[str, Any], answer: dict[str, Any]
) -> list[str]:
    """What the schema refuses in a request and its answer ([] when nothing)."""
    document = parse(sent["query"])
    problems = [f"document: {e.message}" for e in validate(schema, document)]
    if problems:
        return problems
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), sent.get("variables") or {}
    )
    if isinstance(coerced, list):
        return [f"variables: {e.message}" for e in coerced]
    if answer.get("errors"):
        return [f"the simulator answered errors: {answer['errors']}"]
    data = answer.get("data")
    replayed = execute(
        schema,
        document,
        root_value=data,
        variable_values=sent.get("variables"),
        field_resolver=by_response_key,
        type_resolver=by_fields,
    )
    assert isinstance(replayed, ExecutionResult)  # no resolver here is async
    errors: list[GraphQLError] = list(replayed.errors or [])
    problems = [f"answer at {e.path}: {e.message}" for e in errors]
    if not problems and replayed.data != data:
        problems.append("the answer changes when read through the schema")
    return problems


async def test_the_adapters_requests_and_the_simulators_answers_fit_the_schema(
    admin_schema: GraphQLSchema, make_gateway, settings, tokens, dataset
) -> None:
    traffic = ShopifyTraffic(settings.shopify.graphql_path)
    client = UpstreamClient(transport=traffic, timeout=httpx.Timeout(10.0))
    shopper = bearer(tokens.customer(dataset.crm_contacts[3].id))
    async with client, make_gateway(settings, http_client=client) as gateway:
        anyone = Device(gateway, {})
        me = Device(gateway, shopper)
        await anyone.run("{ products(first: 5) { edges { node { sku name } } } }")
        sku = online_skus(dataset, count=1)[0]
        await anyone.run("query ($sku: ID!) { product(sku: $sku) { name } }", sku=sku)
        await me.run("{ me { email orders(first: 5) { edges { node { id } } } } }")
        created = (await me.run(CART_CREATE, lines=[{"sku": sku, "quantity": 1}]))["cartCreate"]
        placed = await me.run(
            CHECKOUT,
            cartId=created["cart"]["id"],
            channel="WEB",
            key="admin-schema-1",
            paymentToken=CARD_OK,
        )
        assert placed["checkout"]["userErrors"] == []
        order = placed["checkout"]["order"]["id"]
        lookup = "query ($id: ID, $number: String) { order(id: $id, number: $number) { number } }"
        number = (await me.run(lookup, id=order))["order"]["number"]
        assert (await me.run(lookup, number=number))["order"]["number"] == number

    operations = {
        parse(sent["query"]).definitions[0].name.value  # type: ignore[attr-defined]
        for sent, _ in traffic.exchanges
    }
    # searched, read by SKU, customers found, orders listed, variants looked up, placed
    assert {
        "SearchProducts",
        "ProductsBySku",
        "FindCustomers",
        "CustomerOrders",
        "VariantIdsBySku",
        "PlaceOrder",
        "OrderById",
        "OrderByName",
    } <= operations
    problems = {
        f"{i} {sent['query'].split('(', 1)[0].strip()}": found
        for i, (sent, answer) in enumerate(traffic.exchanges)
        if (found := answer_problems(admin_schema, sent, answer))
    }
    assert problems == {}


async def test_the_shopify_pos_and_inventory_requests_and_answers_fit_the_schema(
    admin_schema: GraphQLSchema, make_gateway, settings, tokens, dataset
) -> None:
    """The same, with Shopify as POS and inventory: stores, stock per store, store sales
    beside online orders, a store checkout, a receipt looked up, a webhook's items."""
    shopify_set = settings.with_changes(
        adapters={**settings.adapters.model_dump(), "pos": "shopify", "inventory": "shopify"}
    )
    traffic = ShopifyTraffic(settings.shopify.graphql_path)
    client = UpstreamClient(transport=traffic, timeout=httpx.Timeout(10.0))
    contact = known_everywhere(dataset)[41]
    shopper = bearer(tokens.customer(contact))
    store = location_gid(dataset.locations.index(dataset.stores[3]))
    async with client, make_gateway(shopify_set, http_client=client) as gateway:
        anyone = Device(gateway, {})
        me = Device(gateway, shopper)
        await anyone.run("{ stores { id name } }")
        await anyone.run(
            "{ products(first: 20) { edges { node { sku availability {"
            " online { quantity } stores(first: 20) { quantity } } } } } }"
        )
        both = Device(gateway, bearer(tokens.customer(person_with_both_channels(dataset))))
        mine = await both.run("{ me { orders(first: 30) { edges { node { id channel } } } } }")
        receipt = next(
            edge["node"]["id"]
            for edge in mine["me"]["orders"]["edges"]
            if edge["node"]["channel"] == "STORE"
        )
        sku = stocked_skus(dataset, dataset.stores[3].id, 2, 1)[0]
        created = (await me.run(CART_CREATE, lines=[{"sku": sku, "quantity": 1}]))["cartCreate"]
        till = staff_at(gateway, tokens, store)
        placed = await till.run(
            CHECKOUT, cartId=created["cart"]["id"], channel="STORE", key="admin-schema-store"
        )
        assert placed["checkout"]["userErrors"] == []
        order = placed["checkout"]["order"]["id"]
        lookup = "query ($id: ID) { order(id: $id) { number channel } }"
        assert (await me.run(lookup, id=order))["order"]["channel"] == "STORE"
        assert (await both.run(lookup, id=receipt))["order"]["channel"] == "STORE"
        services = gateway.http._transport.app.state.services
        item = "gid://shopify/InventoryItem/49000000000"
        assert await services.inventory.skus_for_items([item]) == {item: dataset.products[0].sku}

    operations = {
        parse(sent["query"]).definitions[0].name.value  # type: ignore[attr-defined]
        for sent, _ in traffic.exchanges
    }
    assert {
        "Locations",
        "StockBySku",
        "StoreOrders",
        "CustomerOrders",
        "FindCustomers",
        "PlacedOrder",
        "PlaceOrder",
        "OrderById",
        "ItemSkus",
    } <= operations
    problems = {
        f"{i} {sent['query'].split('(', 1)[0].strip()}": found
        for i, (sent, answer) in enumerate(traffic.exchanges)
        if (found := answer_problems(admin_schema, sent, answer))
    }
    assert problems == {}


def test_a_wrong_answer_is_caught(admin_schema: GraphQLSchema) -> None:
    """The check above can fail: an answer missing a non-null field, and one with an enum
    value Shopify does not have, are refused."""
    sent = {"query": "query Shop { shop { currencyCode name } }", "variables": {}}
    assert answer_problems(admin_schema, sent, {"data": {"shop": {"currencyCode": "USD"}}})
    wrong_enum = {"data": {"shop": {"currencyCode": "DOLLARS", "name": "Omni"}}}
    assert answer_problems(admin_schema, sent, wrong_enum)
    right = {"data": {"shop": {"currencyCode": "USD", "name": "Omni"}}}
    assert answer_problems(admin_schema, sent, right) == []


def test_the_schema_file_is_fetched_not_committed() -> None:
    ignored = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert ".data/" in ignored
    assert Path(SCHEMA_FILE).is_relative_to(REPO_ROOT / ".data")


def type_signature(type_: Any) -> str:
    """`[String!]!` for a graphql-core type, as SDL spells it."""
    return str(type_)


def test_every_field_of_the_simulator_is_shopify_s_with_the_same_type(
    admin_schema: GraphQLSchema,
) -> None:
    """Each object's and input's fields, their arguments and each enum's values in the
    simulator's SDL (sandbox/shopify/schema.graphql) exist in the official schema, typed
    the same: the simulator answers nothing a real shop would not."""
    problems: list[str] = []
    for name, ours in simulator_schema().type_map.items():
        if name.startswith("__"):
            continue
        theirs = admin_schema.type_map.get(name)
        if theirs is None:
            problems.append(f"{name}: no such type")
            continue
        if isinstance(ours, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType), name
            problems += [
                f"{name}.{v}: no such value" for v in ours.values if v not in theirs.values
            ]
            continue
        if not isinstance(ours, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            continue
        official = theirs.fields  # type: ignore[union-attr]
        for field_name, field in ours.fields.items():
            other = official.get(field_name)
            if other is None:
                problems.append(f"{name}.{field_name}: no such field")
                continue
            if type_signature(field.type) != type_signature(other.type):
                problems.append(f"{name}.{field_name}: {field.type} here, {other.type} there")
            for arg_name, arg in getattr(field, "args", {}).items():
                their_arg = other.args.get(arg_name)  # type: ignore[union-attr]
                if their_arg is None:
                    problems.append(f"{name}.{field_name}({arg_name}): no such argument")
                elif type_signature(arg.type) != type_signature(their_arg.type):
                    problems.append(
                        f"{name}.{field_name}({arg_name}): {arg.type} here, {their_arg.type} there"
                    )
    assert problems == []
