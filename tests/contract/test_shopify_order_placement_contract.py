"""Contract tests of placing an online order through Shopify's `orderCreate`.

`orderCreate` has no idempotency of its own, so the adapter brings it: the checkout key as
a unique custom ID (an `id` metafield) and a fingerprint of the order input, a lookup by
custom ID before creating, and a second lookup when Shopify refuses a duplicate custom ID.
These hold the documents, variables and every branch of that against recorded-style
answers; tests/sandbox/test_shopify_order_placement_sandbox.py runs it against the simulator.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.errors import (
    IdempotencyKeyReused,
    OrderRejected,
    UpstreamRejected,
    UpstreamThrottled,
)
from connectors.http import UpstreamHttp
from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderDraft,
    OrderLine,
    OrderLineDraft,
    System,
)
from connectors.shopify import ShopifyEcommerce, ShopifySettings
from connectors.shopify import order_input as shopify_order_input

SHOP = "https://omni-test.myshopify.com"
PATH = "/admin/api/2026-07/graphql.json"
SETTINGS = ShopifySettings(base_url=SHOP, access_token=SecretStr("shpat_contract"))
CUSTOMER = "gid://shopify/Customer/42"
VARIANT = "gid://shopify/ProductVariant/11"


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


DRAFT = OrderDraft(
    idempotency_key="checkout-7f3a",
    customer_refs=(ExternalRef(System.SQUARE, "SQ1"), ExternalRef(System.SHOPIFY, CUSTOMER)),
    lines=(OrderLineDraft("SKU-1", 2, usd("12.50")), OrderLineDraft("SKU-404", 1, usd("3"))),
    currency="USD",
    location_id="LSTORE1",
    pickup=True,
    discount=usd("2.00"),
    note="Ask for Sam",
)
# The orderCreate `order` input DRAFT becomes, before omnigate's metafields.
ORDER_INPUT: dict[str, Any] = {
    "currency": "USD",
    "financialStatus": "PENDING",
    "lineItems": [
        {
            "quantity": 2,
            "priceSet": {"shopMoney": {"amount": "12.5", "currencyCode": "USD"}},
            "variantId": VARIANT,
        },
        {
            "quantity": 1,
            "priceSet": {"shopMoney": {"amount": "3", "currencyCode": "USD"}},
            "title": "SKU-404",
            "sku": "SKU-404",
        },
    ],
    "tags": ["omnigate", "pickup"],
    "customer": {"toAssociate": {"id": CUSTOMER}},
    "discountCode": {
        "itemFixedDiscountCode": {
            "code": "OMNIGATE-PROMOTION",
            "amountSet": {"shopMoney": {"amount": "2", "currencyCode": "USD"}},
        }
    },
    "note": "Ask for Sam",
    "customAttributes": [{"key": "pickup_location_id", "value": "LSTORE1"}],
}
FINGERPRINT = hashlib.sha256(
    json.dumps(ORDER_INPUT, sort_keys=True, separators=(",", ":")).encode()
).hexdigest()


def order_node(fingerprint: str | None = FINGERPRINT) -> dict[str, Any]:
    def bag(amount: str) -> dict[str, Any]:
        return {"shopMoney": {"amount": amount, "currencyCode": "USD"}}

    return {
        "id": "gid://shopify/Order/77",
        "name": "#1077",
        "createdAt": "2026-11-20T10:00:00Z",
        "displayFinancialStatus": "PENDING",
        "totalPriceSet": bag("26.00"),
        "customer": {"id": CUSTOMER},
        "lineItems": {
            "edges": [
                {
                    "node": {
                        "sku": "SKU-1",
                        "name": "Linen Shirt",
                        "quantity": 2,
                        "originalUnitPriceSet": bag("12.50"),
                    }
                },
                {
                    "node": {
                        "sku": "SKU-404",
                        "name": "SKU-404",
                        "quantity": 1,
                        "originalUnitPriceSet": bag("3.00"),
                    }
                },
            ]
        },
        "fingerprint": {"value": fingerprint} if fingerprint else None,
    }


def answer(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"data": data})


def variants(*nodes: dict[str, Any]) -> httpx.Response:
    return answer(
        {
            "productVariants": {
                "edges": [{"node": node} for node in nodes],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
        }
    )


def looked_up(node: dict[str, Any] | None) -> httpx.Response:
    return answer({"orderByIdentifier": node})


def placed(node: dict[str, Any] | None, *user_errors: dict[str, Any]) -> httpx.Response:
    return answer({"orderCreate": {"order": node, "userErrors": list(user_errors)}})


TAKEN = {
    "field": ["order", "metafields", "0", "value"],
    "message": "Value is already taken by another order.",
    "code": "INVALID",
}


class Shopify:
    """One mocked endpoint answering each of the adapter's three operations from a queue."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.queues: dict[str, list[httpx.Response]] = {
            "VariantIdsBySku": [variants({"id": VARIANT, "sku": "SKU-1"})],
            "PlacedOrder": [],
            "PlaceOrder": [],
        }
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.route = router.post(PATH).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        name = next(n for n in self.queues if f" {n}(" in body["query"])
        self.sent.append((name, body["variables"]))
        queue = self.queues[name]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def operations(self) -> list[str]:
        return [name for name, _ in self.sent]

    def variables(self, name: str) -> list[dict[str, Any]]:
        return [variables for sent, variables in self.sent if sent == name]


@pytest.fixture
async def mocked() -> AsyncIterator[Shopify]:
    async with respx.mock(base_url=SHOP, assert_all_called=False) as router:
        yield Shopify(router)


@pytest.fixture
async def shopify(mocked: Shopify) -> AsyncIterator[ShopifyEcommerce]:
    async with httpx.AsyncClient() as client:
        yield ShopifyEcommerce(UpstreamHttp(client, service="shopify", base_url=SHOP), SETTINGS)


async def test_first_attempt_looks_the_key_up_then_creates_with_key_and_fingerprint(
    mocked: Shopify, shopify: ShopifyEcommerce
) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(None)]
    mocked.queues["PlaceOrder"] = [placed(order_node())]

    record = await shopify.place_order(DRAFT)

    assert mocked.operations() == ["VariantIdsBySku", "PlacedOrder", "PlaceOrder"]
    (variant_lookup,) = mocked.variables("VariantIdsBySku")
    assert variant_lookup == {"first": 2, "after": None, "query": 'sku:"SKU-1" OR sku:"SKU-404"'}
    shared = {"lines": 2, "namespace": "omnigate", "fingerprintKey": "checkout_fingerprint"}
    (lookup,) = mocked.variables("PlacedOrder")
    assert lookup == {
        **shared,
        "identifier": {
            "customId": {"namespace": "omnigate", "key": "checkout_key", "value": "checkout-7f3a"}
        },
    }
    (create,) = mocked.variables("PlaceOrder")
    assert create == {
        **shared,
        "order": {
            **ORDER_INPUT,
            "metafields": [
                {
                    "namespace": "omnigate",
                    "key": "checkout_key",
                    "type": "id",
                    "value": "checkout-7f3a",
                },
                {
                    "namespace": "omnigate",
                    "key": "checkout_fingerprint",
                    "type": "single_line_text_field",
                    "value": FINGERPRINT,
                },
            ],
        },
        "options": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"},
    }
    assert record.ref == ExternalRef(System.SHOPIFY, "gid://shopify/Order/77")
    assert record.channel is Channel.ONLINE
    assert record.total == usd("26.00")
    assert record.customer_ref == ExternalRef(System.SHOPIFY, CUSTOMER)
    assert (record.number, record.status) == ("#1077", "PENDING")
    assert record.lines == (
        OrderLine("SKU-1", "Linen Shirt", 2, usd("12.50"), usd("25.00")),
        OrderLine("SKU-404", "SKU-404", 1, usd("3.00"), usd("3.00")),
    )


async def test_a_retry_finds_its_order_and_creates_nothing(
    mocked: Shopify, shopify: ShopifyEcommerce
) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(order_node())]

    record = await shopify.place_order(DRAFT)

    assert mocked.operations() == ["VariantIdsBySku", "PlacedOrder"]
    assert record.ref.id == "gid://shopify/Order/77"


@pytest.mark.parametrize("stored", ["0" * 64, None])
async def test_the_key_of_another_draft_is_refused_and_creates_nothing(
    mocked: Shopify, shopify: ShopifyEcommerce, stored: str | None
) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(order_node(fingerprint=stored))]

    with pytest.raises(IdempotencyKeyReused) as caught:
        await shopify.place_order(DRAFT)

    assert "PlaceOrder" not in mocked.operations()
    assert caught.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert "gid://shopify/Order/77" in caught.value.detail
    assert "Order/77" not in caught.value.public_message


async def test_losing_a_race_for_the_key_answers_the_winners_order(
    mocked: Shopify, shopify: ShopifyEcommerce
) -> None:
    # Both attempts looked the key up before either created; Shopify refused our duplicate ID.
    mocked.queues["PlacedOrder"] = [looked_up(None), looked_up(order_node())]
    mocked.queues["PlaceOrder"] = [placed(None, TAKEN)]

    record = await shopify.place_order(DRAFT)

    assert mocked.operations() == ["VariantIdsBySku", "PlacedOrder", "PlaceOrder", "PlacedOrder"]
    assert record.ref.id == "gid://shopify/Order/77"


async def test_a_refused_order_is_order_rejected_with_a_safe_message(
    mocked: Shopify, shopify: ShopifyEcommerce
) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(None)]
    mocked.queues["PlaceOrder"] = [
        placed(
            None,
            {
                "field": ["order", "customer", "toAssociate", "id"],
                "message": "Customer does not exist.",
                "code": "INVALID",
            },
        )
    ]

    with pytest.raises(OrderRejected) as caught:
        await shopify.place_order(DRAFT)

    error = caught.value
    assert isinstance(error, UpstreamRejected)
    assert (error.code, error.operation) == ("ORDER_REJECTED", "shopify.place_order")
    assert error.detail == "INVALID order.customer.toAssociate.id: Customer does not exist."
    assert error.public_message == "The shopify service refused the order."
    assert mocked.operations()[-1] == "PlacedOrder", "a refusal is checked against a race first"


async def test_a_throttled_create_is_throttling_not_a_refusal(
    mocked: Shopify, shopify: ShopifyEcommerce
) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(None)]
    mocked.queues["PlaceOrder"] = [
        httpx.Response(
            200, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        )
    ]
    with pytest.raises(UpstreamThrottled) as caught:
        await shopify.place_order(DRAFT)
    assert caught.value.operation == "shopify.place_order"


async def test_a_guest_delivery_is_a_plain_order(
    mocked: Shopify, shopify: ShopifyEcommerce
) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(None)]
    mocked.queues["PlaceOrder"] = [placed(order_node())]
    guest = dataclasses.replace(
        DRAFT, customer_refs=DRAFT.customer_refs[:1], pickup=False, discount=None, note=None
    )

    await shopify.place_order(guest)

    (create,) = mocked.variables("PlaceOrder")
    order = create["order"]
    assert set(order) == {"currency", "financialStatus", "lineItems", "tags", "metafields"}
    assert order["tags"] == ["omnigate"]


def test_the_fingerprint_tells_a_retry_from_another_order() -> None:
    def digest(draft: OrderDraft) -> str:
        return shopify_order_input.fingerprint(
            shopify_order_input.order_input(draft, {"SKU-1": VARIANT})
        )

    respelled = dataclasses.replace(
        DRAFT,
        lines=(OrderLineDraft("SKU-1", 2, usd("12.5")), OrderLineDraft("SKU-404", 1, usd("3.00"))),
    )
    more = dataclasses.replace(
        DRAFT, lines=(OrderLineDraft("SKU-1", 3, usd("12.50")), *DRAFT.lines[1:])
    )
    assert digest(DRAFT) == digest(respelled) == FINGERPRINT
    assert digest(more) != FINGERPRINT
    assert digest(dataclasses.replace(DRAFT, discount=usd("2.01"))) != FINGERPRINT


class RecordingHttp(UpstreamHttp):
    """UpstreamHttp as it is about to be: `send` takes `idempotent`; this one records it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, service="shopify", base_url=SHOP)
        self.idempotent: list[tuple[str, bool]] = []

    async def send(self, operation, method, path_or_url, *, idempotent=False, **options):
        self.idempotent.append((operation, idempotent))
        return await super().send(operation, method, path_or_url, **options)


async def test_only_the_reads_may_be_resent_never_the_create(mocked: Shopify) -> None:
    mocked.queues["PlacedOrder"] = [looked_up(None)]
    mocked.queues["PlaceOrder"] = [placed(order_node())]
    async with httpx.AsyncClient() as client:
        http = RecordingHttp(client)
        await ShopifyEcommerce(http, SETTINGS).place_order(DRAFT)
    assert http.idempotent == [
        ("shopify.variant_ids", True),
        ("shopify.placed_order", True),
        ("shopify.place_order", False),
    ]
