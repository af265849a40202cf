"""The Square adapter against the Square simulator, in process through httpx.ASGITransport.

No mocks: these hold the simulator to Square's contract (auth, caps, cursors, error envelope)
and the adapter to the dataset the simulator serves.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from connectors.errors import UpstreamRejected, UpstreamThrottled
from connectors.http import UpstreamHttp
from connectors.records import OrderQuery, StockLevel
from connectors.square import SquareInventory, SquarePos, SquareSettings
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset, build_dataset
from sandbox.square import DEFAULT_SQUARE_VERSION, create_app

URL = "http://square.sandbox"
AUTH = {"Authorization": "Bearer sandbox-square-token"}
INVENTORY_CALL = "POST /v2/inventory/counts/batch-retrieve"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture(scope="module")
def app(dataset: Dataset) -> Starlette:
    return create_app(dataset, public_url=URL)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    app.state.calls.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as c:
        yield c


@pytest.fixture
def http(client: httpx.AsyncClient) -> UpstreamHttp:
    return UpstreamHttp(client, service="square", base_url=URL)


@pytest.fixture
def settings() -> SquareSettings:
    return SquareSettings(base_url=URL)


@pytest.fixture
def pos(http: UpstreamHttp, settings: SquareSettings) -> SquarePos:
    return SquarePos(http, settings)


@pytest.fixture
def inventory(http: UpstreamHttp, settings: SquareSettings) -> SquareInventory:
    return SquareInventory(http, settings)


def calls(app: Starlette) -> dict[str, int]:
    return dict(app.state.calls)


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=AUTH)


# --- the envelope ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "detail_part"),
    [
        ({}, "could not be authorized"),
        ({"Authorization": "Bearer wrong-token"}, "could not be authorized"),
        ({"Authorization": "Basic c2FuZGJveA=="}, "malformed"),
    ],
)
async def test_missing_or_wrong_token_gets_square_401_envelope(client, headers, detail_part):
    response = await client.get("/v2/locations", headers=headers)
    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert (error["category"], error["code"]) == ("AUTHENTICATION_ERROR", "UNAUTHORIZED")
    assert detail_part in error["detail"]


async def test_square_version_is_echoed_and_a_malformed_one_refused(client):
    response = await client.get("/v2/locations", headers={**AUTH, "Square-Version": "2025-01-23"})
    assert response.headers["square-version"] == "2025-01-23"
    default = await client.get("/v2/locations", headers=AUTH)
    assert default.headers["square-version"] == DEFAULT_SQUARE_VERSION
    bad = await client.get("/v2/locations", headers={**AUTH, "Square-Version": "latest"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "INVALID_SQUARE_VERSION_FORMAT"


async def test_a_body_that_is_not_json_is_refused(client):
    response = await client.post(
        "/v2/customers/search",
        content=b"{oops",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "EXPECTED_JSON_BODY"


async def test_the_adapter_maps_a_wrong_token_to_a_rejection(http):
    pos = SquarePos(http, SquareSettings(base_url=URL, access_token="stolen"))
    with pytest.raises(UpstreamRejected) as caught:
        await pos.locations()
    assert "UNAUTHORIZED" in caught.value.detail


async def test_rate_limit_hook_answers_429_rate_limited_and_adapter_throttles(dataset):
    class AlwaysThrottle:
        def retry_after(self, request: Request) -> float | None:
            return 3.0

    throttled = create_app(dataset, public_url=URL, rate_limit=AlwaysThrottle())
    transport = httpx.ASGITransport(app=throttled)
    async with httpx.AsyncClient(transport=transport, base_url=URL) as client:
        raw = await client.get("/v2/locations", headers=AUTH)
        assert raw.status_code == 429
        assert raw.json()["errors"][0]["code"] == "RATE_LIMITED"
        pos = SquarePos(UpstreamHttp(client, service="square", base_url=URL), SquareSettings())
        with pytest.raises(UpstreamThrottled) as caught:
            await pos.locations()
    assert caught.value.retry_after == 3.0


# --- caps, refused with Square's own codes ---------------------------------------------------


def _ids(n: int) -> list[str]:
    return [f"ID{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("path", "body", "code", "field"),
    [
        (
            "/v2/customers/bulk-retrieve",
            {"customer_ids": _ids(101)},
            "ARRAY_LENGTH_TOO_LONG",
            "customer_ids",
        ),
        ("/v2/customers/search", {"limit": 101}, "VALUE_TOO_HIGH", "limit"),
        ("/v2/customers/search", {"limit": 0}, "VALUE_TOO_LOW", "limit"),
        ("/v2/orders/search", {"location_ids": _ids(11)}, "ARRAY_LENGTH_TOO_LONG", "location_ids"),
        ("/v2/orders/search", {}, "MISSING_REQUIRED_PARAMETER", "location_ids"),
        (
            "/v2/orders/search",
            {
                "location_ids": ["L"],
                "query": {"filter": {"customer_filter": {"customer_ids": _ids(11)}}},
            },
            "ARRAY_LENGTH_TOO_LONG",
            "query.filter.customer_filter.customer_ids",
        ),
        ("/v2/orders/search", {"location_ids": ["L"], "limit": 1001}, "VALUE_TOO_HIGH", "limit"),
        (
            "/v2/orders/search",
            {
                "location_ids": ["L"],
                "query": {
                    "filter": {
                        "date_time_filter": {"created_at": {"end_at": "2026-01-01T00:00:00Z"}}
                    },
                    "sort": {"sort_field": "UPDATED_AT"},
                },
            },
            "INVALID_VALUE",
            "query.sort.sort_field",
        ),
        (
            "/v2/orders/batch-retrieve",
            {"order_ids": _ids(101)},
            "ARRAY_LENGTH_TOO_LONG",
            "order_ids",
        ),
        (
            "/v2/loyalty/accounts/search",
            {"query": {"customer_ids": _ids(31)}},
            "ARRAY_LENGTH_TOO_LONG",
            "query.customer_ids",
        ),
        ("/v2/loyalty/accounts/search", {"limit": 31}, "VALUE_TOO_HIGH", "limit"),
        ("/v2/inventory/counts/batch-retrieve", {"limit": 1001}, "VALUE_TOO_HIGH", "limit"),
        (
            "/v2/catalog/search",
            {"query": {"set_query": {"attribute_name": "sku", "attribute_values": _ids(251)}}},
            "ARRAY_LENGTH_TOO_LONG",
            "set_query.attribute_values",
        ),
        (
            "/v2/catalog/batch-retrieve",
            {"object_ids": _ids(1001)},
            "ARRAY_LENGTH_TOO_LONG",
            "object_ids",
        ),
        (
            "/v2/catalog/search",
            {"query": {"exact_query": {"attribute_name": "colour", "attribute_value": "x"}}},
            "INVALID_VALUE",
            "exact_query.attribute_name",
        ),
        (
            "/v2/customers/search",
            {"query": {"filter": {"phone_number": {"exact": "(212) 555-0100"}}}},
            "INVALID_PHONE_NUMBER",
            "query.filter.phone_number.exact",
        ),
    ],
)
async def test_simulator_refuses_what_square_refuses(client, path, body, code, field):
    response = await post(client, path, body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["category"], error["code"], error["field"]) == (
        "INVALID_REQUEST_ERROR",
        code,
        field,
    )


async def test_caps_at_the_limit_are_accepted(client):
    assert (
        await post(client, "/v2/customers/bulk-retrieve", {"customer_ids": _ids(100)})
    ).is_success
    assert (await post(client, "/v2/orders/search", {"location_ids": _ids(10)})).is_success
    loyalty = {"query": {"customer_ids": _ids(30)}, "limit": 30}
    assert (await post(client, "/v2/loyalty/accounts/search", loyalty)).is_success


# --- cursors ------------------------------------------------------------------------------


async def walk(client: httpx.AsyncClient, path: str, body: dict, key: str) -> tuple[list, int]:
    items: list = []
    pages = 0
    cursor = None
    while True:
        response = await post(client, path, body if cursor is None else {**body, "cursor": cursor})
        assert response.status_code == 200, response.text
        payload = response.json()
        items.extend(payload.get(key, []))
        pages += 1
        cursor = payload.get("cursor")
        if cursor is None:
            return items, pages


async def test_customer_search_cursor_walks_every_customer_exactly_once(client, dataset):
    found, pages = await walk(client, "/v2/customers/search", {"limit": 100}, "customers")
    ids = [c["id"] for c in found]
    assert len(ids) == len(set(ids)) == len(dataset.pos_customers)
    assert pages == math.ceil(len(dataset.pos_customers) / 100)


async def test_inventory_cursor_walks_every_count_exactly_once_newest_first(client, dataset):
    found, pages = await walk(client, "/v2/inventory/counts/batch-retrieve", {}, "counts")
    pairs = [(c["catalog_object_id"], c["location_id"]) for c in found]
    assert len(pairs) == len(set(pairs)) == len(dataset.inventory)
    assert pages == math.ceil(len(dataset.inventory) / 1000)
    times = [c["calculated_at"] for c in found]
    assert times == sorted(times, reverse=True)


async def test_order_search_cursor_walks_a_location_exactly_once(client, dataset):
    store = dataset.stores[0]
    body = {"location_ids": [store.id], "limit": 50, "return_entries": True}
    found, _ = await walk(client, "/v2/orders/search", body, "order_entries")
    expected = {o.id for o in dataset.pos_orders if o.location_id == store.id}
    order_ids = [e["order_id"] for e in found]
    assert len(order_ids) == len(expected)
    assert set(order_ids) == expected


@pytest.mark.parametrize("cursor", ["not-a-cursor", None])
async def test_a_cursor_replayed_with_another_query_is_invalid(client, cursor):
    first = await post(client, "/v2/customers/search", {"limit": 10})
    issued = first.json()["cursor"] if cursor is None else cursor
    other_query = {"limit": 10, "query": {"sort": {"field": "CREATED_AT"}}, "cursor": issued}
    response = await post(client, "/v2/customers/search", other_query)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_CURSOR"


# --- locations and catalog ----------------------------------------------------------------


async def test_locations_are_the_twelve_stores_and_the_warehouse(pos, dataset):
    found = {loc.id: loc for loc in await pos.locations()}
    assert len(found) == 13
    assert [i for i, loc in found.items() if loc.is_warehouse] == [WAREHOUSE_LOCATION_ID]
    store = dataset.stores[0]
    record = found[store.id]
    assert record.address.city == store.locality
    assert record.timezone == store.timezone
    assert (record.latitude, record.longitude, record.phone) == (
        store.latitude,
        store.longitude,
        store.phone_number,
    )
    assert [(p.day, p.opens, p.closes) for p in record.opening_hours] == [
        (day, start[:5], end[:5]) for day, start, end in store.business_hours
    ]


async def test_catalog_variation_price_is_the_pos_price(client, dataset):
    stale = next(p for p in dataset.products if p.pos_price != p.price)
    response = await post(
        client,
        "/v2/catalog/search",
        {
            "object_types": ["ITEM_VARIATION"],
            "query": {
                "exact_query": {"attribute_name": "sku", "attribute_value": stale.sku.lower()}
            },
            "include_related_objects": True,
        },
    )
    (found,) = response.json()["objects"]
    assert found["id"] == stale.square_variation_id
    assert found["item_variation_data"]["price_money"] == {
        "amount": int(stale.pos_price * 100),
        "currency": "USD",
    }
    assert response.json()["related_objects"][0]["id"] == stale.square_item_id


# --- inventory through the adapter -----------------------------------------------------------


def expected_stock(dataset: Dataset, skus: list[str], locations: set[str] | None) -> set:
    return {
        StockLevel(sku, location_id, quantity)
        for sku in skus
        for (variation_id, location_id), quantity in dataset.inventory.items()
        if variation_id == dataset.products_by_sku[sku].square_variation_id
        and (locations is None or location_id in locations)
    }


async def test_stock_of_20_skus_is_one_inventory_call_once_mapped(app, inventory, dataset):
    skus = [p.sku for p in dataset.products[100:120]]

    first = await inventory.stock(skus)
    assert calls(app) == {"POST /v2/catalog/search": 1, INVENTORY_CALL: 1}
    app.state.calls.clear()
    second = await inventory.stock(skus)

    assert calls(app) == {INVENTORY_CALL: 1}
    assert set(first) == set(second) == expected_stock(dataset, skus, None)
    assert len(first) < 20 * 13, "pairs a store does not range return no count at all"


async def test_stock_at_chosen_locations_and_unknown_skus(inventory, dataset):
    skus = [p.sku for p in dataset.products[:5]]
    wanted = {dataset.stores[0].id, WAREHOUSE_LOCATION_ID}
    levels = await inventory.stock([*skus, "NOPE-000000"], sorted(wanted))
    assert set(levels) == expected_stock(dataset, skus, wanted)


async def test_stock_of_300_skus_respects_the_set_query_cap(app, inventory, dataset):
    skus = [p.sku for p in dataset.products[:300]]
    levels = await inventory.stock(skus, [WAREHOUSE_LOCATION_ID])
    assert calls(app) == {"POST /v2/catalog/search": 2, INVENTORY_CALL: 1}
    assert set(levels) == expected_stock(dataset, skus, {WAREHOUSE_LOCATION_ID})


# --- customers, orders, loyalty through the adapter --------------------------------------------


async def test_find_customers_by_email_any_case_and_by_phone(pos, dataset):
    with_email = next(c for c in dataset.pos_customers if c.email_address)
    without_email = next(c for c in dataset.pos_customers if c.email_address is None)
    found = await pos.find_customers(
        [with_email.email_address.upper()], [without_email.phone_number]
    )
    assert {c.ref.id for c in found} == {with_email.id, without_email.id}


async def test_fuzzy_email_search_needs_every_token_inside_the_address(client, dataset):
    body = {"query": {"filter": {"email_address": {"fuzzy": "ava example"}}}, "limit": 100}
    found, _ = await walk(client, "/v2/customers/search", body, "customers")
    expected = {
        c.id
        for c in dataset.pos_customers
        if c.email_address and "ava" in c.email_address.split("@")[0].replace(".", " ")
    }
    assert {c["id"] for c in found} == expected


async def test_customers_by_id_150_ids_are_two_bulk_calls(app, pos, dataset):
    ids = [c.id for c in dataset.pos_customers[:149]] + ["UNKNOWNCUSTOMER"]
    found = await pos.customers_by_id(ids)
    assert calls(app) == {"POST /v2/customers/bulk-retrieve": 2}
    assert set(found) == set(ids[:149])


async def test_orders_are_newest_first_with_an_inclusive_created_before(pos, dataset):
    by_customer: dict[str, list] = {}
    for order in dataset.pos_orders:
        by_customer.setdefault(order.customer_id, []).append(order)
    customer_id, orders = next((c, o) for c, o in by_customer.items() if len(o) >= 4)
    newest_first = sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)

    everything = await pos.orders(OrderQuery(customer_ids=(customer_id,), limit=50))
    assert [o.ref.id for o in everything] == [o.id for o in newest_first]

    bound = newest_first[1].created_at
    page = await pos.orders(OrderQuery(customer_ids=(customer_id,), limit=2, created_before=bound))
    assert [o.ref.id for o in page] == [o.id for o in newest_first[1:3]]

    source = newest_first[1]
    record = page[0]
    assert [line.sku for line in record.lines] == [line.sku for line in source.line_items]
    assert record.total.amount == source.total.quantize(Decimal("0.01"))
    assert record.location_id == source.location_id


async def test_orders_for_many_customers_merge_across_location_chunks(app, pos, dataset):
    customers = list(dict.fromkeys(o.customer_id for o in dataset.pos_orders))[:25]
    found = await pos.orders(OrderQuery(customer_ids=tuple(customers), limit=20))
    expected = sorted(
        (o for o in dataset.pos_orders if o.customer_id in customers),
        key=lambda o: (o.created_at, o.id),
        reverse=True,
    )[:20]
    assert [o.ref.id for o in found] == [o.id for o in expected]
    # 13 locations -> 2 chunks of <=10; 25 customers -> 3 chunks of <=10
    assert calls(app)["POST /v2/orders/search"] == 6


async def test_orders_batch_retrieve_ignores_unknown_ids(client, dataset):
    known = dataset.pos_orders[0]
    response = await post(client, "/v2/orders/batch-retrieve", {"order_ids": [known.id, "nope"]})
    (order,) = response.json()["orders"]
    assert order["id"] == known.id
    assert order["line_items"][0]["catalog_object_id"] == known.line_items[0].square_variation_id
    assert "sku" not in order["line_items"][0]


async def test_loyalty_accounts_for_35_customers_are_two_searches(app, pos, dataset):
    accounts = dataset.loyalty_accounts[:35]
    found = await pos.loyalty_accounts([a.customer_id for a in accounts])
    assert calls(app) == {"POST /v2/loyalty/accounts/search": 2}
    assert {(a.customer_ref.id, a.balance, a.lifetime_points) for a in found} == {
        (a.customer_id, a.balance, a.lifetime_points) for a in accounts
    }


async def test_loyalty_search_by_phone_mapping(client, dataset):
    account = dataset.loyalty_accounts[0]
    body = {"query": {"mappings": [{"phone_number": account.phone_number}]}}
    response = await post(client, "/v2/loyalty/accounts/search", body)
    assert [a["id"] for a in response.json()["loyalty_accounts"]] == [account.id]
