"""The shop's rows: products, customers and orders as the store keeps and searches them.

Each row carries its dataset record and the GraphQL dict served for it; an order's dict is
built on first read. Kept apart from store.py so searchables.py can name the row types
without importing the store, which imports it: no import cycle, TYPE_CHECKING included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.dataset import CURRENCY, LineItem, OnlineOrder, Product, ShopCustomer

Graph = dict[str, Any]


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def iso(moment: datetime) -> str:
    """Shopify's DateTime: UTC, whole seconds."""
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def money_bag(amount: Decimal) -> Graph:
    value = {"amount": money(amount), "currencyCode": CURRENCY}
    return {"shopMoney": value, "presentmentMoney": value}


# the sales channel app every web order names (Order.app)
ONLINE_STORE_APP: Graph = {
    "__typename": "OrderApp",
    "id": gid("App", 580111),
    "name": "Online Store",
}


@dataclass(slots=True)
class ProductRow:
    id: int
    product: Product
    graph: Graph
    variant: Graph
    variant_id: int


@dataclass(slots=True)
class CustomerRow:
    id: int
    customer: ShopCustomer
    graph: Graph


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """An order created through orderCreate, with the fields searches read off OnlineOrder."""

    id: int
    name: str
    customer_id: int | None
    created_at: datetime
    line_items: tuple[LineItem, ...]
    total: Decimal
    financial_status: str
    fulfillment_status: str = "UNFULFILLED"


class OrderRow:
    """An order, shaped on first read: orders outnumber everything else and most are never read.

    `extra` holds what only a placed order has (note, tags, discount, metafields).
    """

    __slots__ = ("_extra", "_graph", "_variants", "customer", "id", "order")

    def __init__(
        self,
        order: OnlineOrder | PlacedOrder,
        customer: CustomerRow | None,
        variants: dict[int, ProductRow],
        extra: Graph | None = None,
    ) -> None:
        self.id = order.id
        self.order = order
        self.customer = customer
        self._variants = variants
        self._extra = extra
        self._graph: Graph | None = None

    @property
    def source_name(self) -> str:
        """The channel the order came from: `web`, `pos`, or what orderCreate named."""
        return str((self._extra or {}).get("sourceName") or "web")

    @property
    def location_number(self) -> int | None:
        """The numeric id of the POS receipt's retail location, if it is one."""
        location = (self._extra or {}).get("retailLocation")
        return int(str(location["id"]).rsplit("/", 1)[1]) if location else None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            order = self.order
            lines = [
                _line(order.id * 10 + n, li, self._variants)
                for n, li in enumerate(order.line_items)
            ]
            self._graph = {
                "__typename": "Order",
                "id": gid("Order", order.id),
                "name": order.name,
                "createdAt": iso(order.created_at),
                "processedAt": iso(order.created_at),
                "updatedAt": iso(order.created_at),
                "currencyCode": CURRENCY,
                "displayFinancialStatus": order.financial_status,
                "displayFulfillmentStatus": order.fulfillment_status,
                "subtotalPriceSet": money_bag(order.total),
                "totalDiscountsSet": money_bag(Decimal(0)),
                "totalPriceSet": money_bag(order.total),
                "discountCode": None,
                "note": None,
                "tags": [],
                "customAttributes": [],
                "transactions": _seeded_sale(order),
                "_fulfillments": [],
                "customer": self.customer.graph if self.customer else None,
                # an online store order; a POS receipt's `extra` says otherwise
                "sourceName": "web",
                "retailLocation": None,
                "staffMember": None,
                "app": ONLINE_STORE_APP,
                "_lines": lines,
                "_metafields": {},
            }
            self._graph.update(self._extra or {})
        return self._graph


# the seeded orders were paid in the online store through Shopify Payments; their sales'
# transaction ids sit apart from those orderCreate and refundCreate hand out
SEEDED_GATEWAY = "shopify_payments"
_SEEDED_TRANSACTION_BASE = 6_100_000_000
_SEEDED_ORDER_BASE = 5_600_000_000


def _seeded_sale(order: OnlineOrder | PlacedOrder) -> list[Graph]:
    """A seeded PAID order's one successful sale for its total; an order placed through
    orderCreate shows the transactions it was given instead (its `extra`)."""
    if not isinstance(order, OnlineOrder) or order.financial_status != "PAID":
        return []
    moment = iso(order.created_at)
    number = _SEEDED_TRANSACTION_BASE + order.id - _SEEDED_ORDER_BASE
    return [
        {
            "__typename": "OrderTransaction",
            "id": gid("OrderTransaction", number),
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": SEEDED_GATEWAY,
            "authorizationCode": None,
            "amountSet": money_bag(order.total),
            "createdAt": moment,
            "processedAt": moment,
            "test": False,
        }
    ]


def _line(line_id: int, line: LineItem, variants: dict[int, ProductRow]) -> Graph:
    row = variants.get(line.shopify_variant_id)
    return {
        "id": gid("LineItem", line_id),
        "sku": line.sku or None,
        "name": line.name,
        "title": line.name,
        "quantity": line.quantity,
        "originalUnitPriceSet": money_bag(line.unit_price),
        "originalTotalSet": money_bag(line.unit_price * line.quantity),
        "variant": row.variant if row else None,
    }
