"""Contract tests of the Square adapter: the requests it sends and how it reads Square's answers.

Square is replaced by respx routes here; tests/sandbox/test_square_sandbox.py runs the same
adapter against the simulator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import respx

from connectors.errors import (
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp
from connectors.records import Channel, ExternalRef, Money, OrderQuery, StockLevel, System
from connectors.square import SQUARE_API_VERSION, SquareInventory, SquarePos, SquareSettings

BASE = "https://connect.squareup.test"
TOKEN = "contract-token"
SETTINGS = SquareSettings(
    base_url=BASE, access_token=TOKEN, online_location_id="LWAREHOUSE", catalog_cache_seconds=60
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def square() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[UpstreamHttp]:
    async with httpx.AsyncClient() as client:
        yield UpstreamHttp(client, service="square", base_url=BASE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pos(http: UpstreamHttp, clock: Clock) -> SquarePos:
    return SquarePos(http, SETTINGS, clock=clock)


@pytest.fixture
def inventory(http: UpstreamHttp, clock: Clock) -> SquareInventory:
    return SquareInventory(http, SETTINGS, clock=clock)


def body_of(call: respx.models.Call) -> dict:
    return json.loads(call.request.content)


def variation(variation_id: str, sku: str) -> dict:
    return {"type": "ITEM_VARIATION", "id": variation_id, "item_variation_data": {"sku": sku}}


def count(variation_id: str, location_id: str, quantity: str) -> dict:
    return {
        "catalog_object_id": variation_id,
        "catalog_object_type": "ITEM_VARIATION",
        "state": "IN_STOCK",
        "location_id": location_id,
        "quantity": quantity,
        "calculated_at": "2026-10-30T10:00:00.000Z",
    }


def errors(code: str, category: str = "INVALID_REQUEST_ERROR") -> dict:
    return {"errors": [{"category": category, "code": code, "detail": "secret vendor detail"}]}


# --- headers and locations ----------------------------------------------------------------


async def test_every_call_carries_bearer_token_and_pinned_square_version(square, pos):
    route = square.get("/v2/locations").respond(json={"locations": []})
    await pos.locations()
    headers = route.calls.last.request.headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["square-version"] == SQUARE_API_VERSION
    assert headers["accept"] == "application/json"


async def test_locations_map_address_hours_coordinates_and_warehouse_flag(square, pos):
    store = {
        "id": "LSTORE1",
        "name": "Omni Boston",
        "status": "ACTIVE",
        "type": "PHYSICAL",
        "timezone": "America/New_York",
        "phone_number": "+16175550101",
        "address": {
            "address_line_1": "1 Main St",
            "locality": "Boston",
            "administrative_district_level_1": "MA",
            "postal_code": "02108",
            "country": "US",
        },
        "coordinates": {"latitude": 42.35, "longitude": -71.06},
        "business_hours": {
            "periods": [
                {"day_of_week": "MON", "start_local_time": "09:00:00", "end_local_time": "20:00:00"}
            ]
        },
    }
    warehouse = {**store, "id": "LWAREHOUSE", "name": "Fulfilment"}
    closed = {**store, "id": "LCLOSED", "status": "INACTIVE"}
    square.get("/v2/locations").respond(json={"locations": [store, warehouse, closed]})

    found = {loc.id: loc for loc in await pos.locations()}

    assert set(found) == {"LSTORE1", "LWAREHOUSE"}, "inactive locations are not stores"
    boston = found["LSTORE1"]
    assert (boston.address.line1, boston.address.city, boston.address.region) == (
        "1 Main St",
        "Boston",
        "MA",
    )
    assert boston.opening_hours[0].day == "MON"
    assert (boston.opening_hours[0].opens, boston.opening_hours[0].closes) == ("09:00", "20:00")
    assert (boston.latitude, boston.longitude, boston.phone) == (42.35, -71.06, "+16175550101")
    assert boston.external_refs == (ExternalRef(System.SQUARE, "LSTORE1"),)
    assert not boston.is_warehouse
    assert found["LWAREHOUSE"].is_warehouse


# --- inventory --------------------------------------------------------------------------------


async def test_stock_maps_skus_through_one_catalog_search_then_one_counts_call(square, inventory):
    search = square.post("/v2/catalog/search").respond(
        json={"objects": [variation("V1", "SKU-1"), variation("V2", "SKU-2")]}
    )
    counts = square.post("/v2/inventory/counts/batch-retrieve").respond(
        json={"counts": [count("V1", "L1", "7"), count("V2", "L1", "2.5"), count("V2", "L2", "-3")]}
    )

    levels = await inventory.stock(["SKU-1", "SKU-2", "SKU-404"], ["L1", "L2"])

    assert body_of(search.calls.last) == {
        "object_types": ["ITEM_VARIATION"],
        "query": {
            "set_query": {
                "attribute_name": "sku",
                "attribute_values": ["sku-1", "sku-2", "sku-404"],
            }
        },
        "limit": 1000,
    }
    assert body_of(counts.calls.last) == {
        "catalog_object_ids": ["V1", "V2"],
        "states": ["IN_STOCK"],
        "limit": 1000,
        "location_ids": ["L1", "L2"],
    }
    assert sorted(levels, key=lambda s: (s.sku, s.location_id)) == [
        StockLevel("SKU-1", "L1", 7),
        StockLevel("SKU-2", "L1", 2),
        StockLevel("SKU-2", "L2", 0),
    ]


async def test_repeated_stock_read_reuses_the_mapping_until_it_expires(square, inventory, clock):
    search = square.post("/v2/catalog/search").respond(json={"objects": [variation("V1", "A")]})
    counts = square.post("/v2/inventory/counts/batch-retrieve").respond(json={"counts": []})

    await inventory.stock(["A", "UNKNOWN"])
    await inventory.stock(["A", "UNKNOWN"])
    assert (search.call_count, counts.call_count) == (1, 2), "known and unknown SKUs are cached"
    assert "location_ids" not in body_of(counts.calls.last), "None means every location"

    clock.now += SETTINGS.catalog_cache_seconds + 1
    await inventory.stock(["A"])
    assert search.call_count == 2


async def test_stock_chunks_skus_by_the_250_value_set_query_cap(square, inventory):
    skus = [f"SKU-{n}" for n in range(300)]

    def catalog(request: httpx.Request) -> httpx.Response:
        values = json.loads(request.content)["query"]["set_query"]["attribute_values"]
        return httpx.Response(200, json={"objects": [variation(f"V-{v}", v) for v in values]})

    search = square.post("/v2/catalog/search").mock(side_effect=catalog)
    counts = square.post("/v2/inventory/counts/batch-retrieve").respond(json={"counts": []})

    await inventory.stock(skus)

    sizes = sorted(len(body_of(c)["query"]["set_query"]["attribute_values"]) for c in search.calls)
    assert sizes == [50, 250]
    assert counts.call_count == 1
    assert len(body_of(counts.calls.last)["catalog_object_ids"]) == 300


async def test_stock_follows_count_cursors_repeating_the_query(square, inventory):
    square.post("/v2/catalog/search").respond(json={"objects": [variation("V1", "A")]})
    counts = square.post("/v2/inventory/counts/batch-retrieve").mock(
        side_effect=[
            httpx.Response(200, json={"counts": [count("V1", "L1", "1")], "cursor": "c1"}),
            httpx.Response(200, json={"counts": [count("V1", "L2", "2")]}),
        ]
    )

    levels = await inventory.stock(["A"])

    first, second = (body_of(c) for c in counts.calls)
    assert "cursor" not in first
    assert second == {**first, "cursor": "c1"}
    assert {(s.location_id, s.quantity) for s in levels} == {("L1", 1), ("L2", 2)}


async def test_stock_skips_counts_that_say_nothing_sellable(square, inventory):
    square.post("/v2/catalog/search").respond(json={"objects": [variation("V1", "A")]})
    square.post("/v2/inventory/counts/batch-retrieve").respond(
        json={
            "counts": [
                None,
                {**count("V1", "L1", "4"), "state": "WASTE"},
                {key: v for key, v in count("V1", "L2", "4").items() if key != "location_id"},
                count("V-UNKNOWN", "L3", "4"),
                {**count("V1", "L4", "4"), "quantity": 6},  # a number, not Square's string
                {key: v for key, v in count("V1", "L5", "4").items() if key != "quantity"},
                {"catalog_object_id": "V1", "state": "IN_STOCK", "location_id": "L6"},
                count("V1", "L7", "-3"),  # oversold
                count("V1", "L8", "2.5"),  # a part unit does not sell
                count("V1", "L9", "\u00b2"),  # a digit to str.isdigit, not a number to int()
                count("V1", "L10", "12"),
                count("V1", "L11", "12"),  # the same string again: the same whole units
            ]
        }
    )

    levels = await inventory.stock(["A"])

    assert {(s.location_id, s.quantity) for s in levels} == {
        ("L4", 6), ("L5", 0), ("L6", 0), ("L7", 0), ("L8", 2), ("L9", 0), ("L10", 12), ("L11", 12)
    }  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"counts": [{**count("V1", "L1", "4"), "location_id": 12}]},
        {"counts": ["not a count"]},
        {"counts": {"V1": "4"}},
        ["not", "an", "object"],
    ],
)
async def test_counts_of_another_shape_are_the_upstreams_failure(square, inventory, body):
    square.post("/v2/catalog/search").respond(json={"objects": [variation("V1", "A")]})
    square.post("/v2/inventory/counts/batch-retrieve").respond(json=body)

    with pytest.raises(UpstreamUnavailable, match="unexpected body") as caught:
        await inventory.stock(["A"])
    assert caught.value.operation == "square.inventory.batch_retrieve_counts"


async def test_counts_that_are_not_json_are_the_upstreams_failure(square, inventory):
    square.post("/v2/catalog/search").respond(json={"objects": [variation("V1", "A")]})
    square.post("/v2/inventory/counts/batch-retrieve").respond(200, text='{"counts": [')

    with pytest.raises(UpstreamUnavailable, match="not JSON"):
        await inventory.stock(["A"])


async def test_stock_for_no_locations_or_no_skus_asks_nothing(square, inventory):
    assert await inventory.stock(["A"], []) == []
    assert await inventory.stock([], None) == []
    assert len(square.calls) == 0


# --- customers --------------------------------------------------------------------------------


def customer(customer_id: str, email: str | None = None, phone: str | None = None) -> dict:
    data = {
        "id": customer_id,
        "given_name": "Ava",
        "family_name": "Chen",
        "created_at": "2025-01-02T03:04:05.000Z",
        "updated_at": "2025-02-02T03:04:05.000Z",
        "preferences": {"email_unsubscribed": True},
    }
    if email:
        data["email_address"] = email
    if phone:
        data["phone_number"] = phone
    return data


async def test_find_customers_searches_each_email_and_e164_phone_exactly(square, pos):
    def answer(request: httpx.Request) -> httpx.Response:
        found = json.loads(request.content)["query"]["filter"]
        if "email_address" in found:
            return httpx.Response(200, json={"customers": [customer("C1", "ava@example.com")]})
        return httpx.Response(200, json={"customers": [customer("C1"), customer("C2")]})

    route = square.post("/v2/customers/search").mock(side_effect=answer)

    found = await pos.find_customers(
        [" ava@example.com ", "ava@example.com"], ["+1 (212) 555-0100", "(212) 555-0100"]
    )

    filters = [body_of(c)["query"]["filter"] for c in route.calls]
    assert sorted(filters, key=str) == [
        {"email_address": {"exact": "ava@example.com"}},
        {"phone_number": {"exact": "+12125550100"}},
    ], "duplicates collapse and a national-format phone is not sent (Square refuses it)"
    assert all(body_of(c)["limit"] == 100 for c in route.calls)
    assert [c.ref.id for c in found] == ["C1", "C2"]
    first = found[0]
    assert first.email == "ava@example.com"
    assert first.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.email_opt_in is False, "email_unsubscribed is an opt-out"


async def test_150_customer_ids_make_two_bulk_retrieves_and_skip_not_found(square, pos):
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["customer_ids"]
        responses = {
            i: ({"errors": [{"code": "NOT_FOUND"}]} if i == "C7" else {"customer": customer(i)})
            for i in ids
        }
        return httpx.Response(200, json={"responses": responses})

    route = square.post("/v2/customers/bulk-retrieve").mock(side_effect=answer)
    ids = [f"C{n}" for n in range(150)]

    found = await pos.customers_by_id(ids)

    assert sorted(len(body_of(c)["customer_ids"]) for c in route.calls) == [50, 100]
    assert len(found) == 149
    assert "C7" not in found


# --- orders -----------------------------------------------------------------------------------


def order(order_id: str, created_at: str, variation_id: str = "V1") -> dict:
    return {
        "id": order_id,
        "location_id": "L1",
        "customer_id": "C1",
        "state": "COMPLETED",
        "created_at": created_at,
        "total_money": {"amount": 2598, "currency": "USD"},
        "line_items": [
            {
                "catalog_object_id": variation_id,
                "name": "Linen Shirt",
                "quantity": "2",
                "base_price_money": {"amount": 1299, "currency": "USD"},
                "total_money": {"amount": 2598, "currency": "USD"},
            }
        ],
    }


async def test_orders_chunk_locations_and_customers_and_merge_newest_first(square, pos):
    locations = [{"id": f"L{n}", "status": "ACTIVE"} for n in range(13)]
    square.get("/v2/locations").respond(json={"locations": locations})

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if sent["location_ids"][0] == "L0":
            orders = [order("B", "2026-10-02T00:00:00Z"), order("A", "2026-10-01T00:00:00Z")]
        else:
            orders = [order("C", "2026-10-03T00:00:00Z", "V404")]
        return httpx.Response(200, json={"orders": orders})

    search = square.post("/v2/orders/search").mock(side_effect=answer)
    catalog = square.post("/v2/catalog/batch-retrieve").respond(
        json={"objects": [variation("V1", "APP-1")]}
    )
    customers = tuple(f"C{n}" for n in range(12))
    before = datetime(2026, 10, 5, 12, 30, tzinfo=UTC)

    found = await pos.orders(OrderQuery(customer_ids=customers, limit=2, created_before=before))

    bodies = [body_of(c) for c in search.calls]
    assert sorted(
        (len(b["location_ids"]), len(b["query"]["filter"]["customer_filter"]["customer_ids"]))
        for b in bodies
    ) == [(3, 2), (3, 10), (10, 2), (10, 10)]
    first = bodies[0]
    assert first["query"]["sort"] == {"sort_field": "CREATED_AT", "sort_order": "DESC"}
    assert first["query"]["filter"]["date_time_filter"] == {
        "created_at": {"end_at": "2026-10-05T12:30:00Z"}
    }
    assert first["limit"] == 2
    assert [o.ref.id for o in found] == ["C", "B"]
    assert body_of(catalog.calls.last) == {"object_ids": ["V1", "V404"]}
    newest, second = found
    assert newest.lines[0].sku is None, "a variation the catalog does not know has no SKU"
    line = second.lines[0]
    assert (line.sku, line.name, line.quantity) == ("APP-1", "Linen Shirt", 2)
    assert line.unit_price == Money(Decimal("12.99"), "USD")
    assert second.total == Money(Decimal("25.98"), "USD")
    assert second.channel is Channel.STORE
    assert second.customer_ref == ExternalRef(System.SQUARE, "C1")


async def test_orders_for_nobody_ask_nothing(square, pos):
    assert await pos.orders(OrderQuery(customer_ids=(), limit=10)) == []
    assert len(square.calls) == 0


# --- loyalty ----------------------------------------------------------------------------------


async def test_loyalty_accounts_search_30_customer_ids_per_call(square, pos):
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["query"]["customer_ids"]
        accounts = [
            {"id": f"acct-{i}", "customer_id": i, "balance": 10, "lifetime_points": 25} for i in ids
        ]
        return httpx.Response(200, json={"loyalty_accounts": accounts})

    route = square.post("/v2/loyalty/accounts/search").mock(side_effect=answer)

    found = await pos.loyalty_accounts([f"C{n}" for n in range(35)])

    assert sorted(len(body_of(c)["query"]["customer_ids"]) for c in route.calls) == [5, 30]
    assert all(body_of(c)["limit"] == 30 for c in route.calls)
    assert {a.customer_ref for a in found} == {
        ExternalRef(System.SQUARE, f"C{n}") for n in range(35)
    }
    assert found[0].ref == ExternalRef(System.SQUARE, "acct-C0")
    assert (found[0].balance, found[0].lifetime_points) == (10, 25)


# --- errors -----------------------------------------------------------------------------------


async def test_401_is_a_rejection_whose_public_message_hides_square_detail(square, pos):
    square.get("/v2/locations").respond(
        401, json=errors("UNAUTHORIZED", category="AUTHENTICATION_ERROR")
    )
    with pytest.raises(UpstreamRejected) as caught:
        await pos.locations()
    assert caught.value.operation == "square.locations.list"
    assert "UNAUTHORIZED" in caught.value.detail, "the log detail names Square's code"
    assert "secret vendor detail" not in caught.value.public_message
    assert caught.value.public_message == "The square service is unavailable."


async def test_429_is_throttling_with_retry_after(square, inventory):
    square.post("/v2/catalog/search").respond(
        429, json=errors("RATE_LIMITED", category="RATE_LIMIT_ERROR"), headers={"Retry-After": "7"}
    )
    with pytest.raises(UpstreamThrottled) as caught:
        await inventory.stock(["A"])
    assert caught.value.retry_after == 7.0
    assert caught.value.operation == "square.catalog.search"


async def test_500_is_unavailable_not_a_rejection(square, pos):
    square.post("/v2/loyalty/accounts/search").respond(500, text="<html>oops</html>")
    with pytest.raises(UpstreamUnavailable) as caught:
        await pos.loyalty_accounts(["C1"])
    assert not isinstance(caught.value, UpstreamRejected)
    assert "not a Square error envelope" in caught.value.detail


async def test_malformed_json_on_success_is_unavailable(square, inventory):
    square.post("/v2/catalog/search").respond(200, text="{not json")
    with pytest.raises(UpstreamUnavailable, match="not JSON"):
        await inventory.stock(["A"])


async def test_a_success_body_of_the_wrong_shape_is_unavailable(square, pos):
    square.post("/v2/customers/search").respond(json={"customers": [{"given_name": "no id"}]})
    with pytest.raises(UpstreamUnavailable, match="unexpected body"):
        await pos.find_customers(["ava@example.com"], [])


async def test_timeout_is_upstream_timeout(square, pos):
    square.get("/v2/locations").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeout):
        await pos.locations()


async def test_a_repeated_cursor_stops_instead_of_looping(square, pos):
    square.post("/v2/loyalty/accounts/search").respond(json={"loyalty_accounts": [], "cursor": "x"})
    with pytest.raises(UpstreamUnavailable, match="cursor repeated"):
        await pos.loyalty_accounts(["C1"])
