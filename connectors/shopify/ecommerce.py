"""The e-commerce port over the Shopify Admin GraphQL API.

Shopify holds the price every channel shows, so `products_by_sku` is omnigate's single
price source: a variant's price, with the shop's currency read in the same request. Reads
are batched as far as Shopify's single-query cost cap allows (see documents.py) and every
page is one call named `shopify.<method>` in metrics and errors. `place_order` is the one
write: `orderCreate`, made exactly-once by omnigate itself (see order_input.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.errors import (
    UpstreamRejected,
)
from connectors.records import (
    Money,
    OrderDraft,
    OrderQuery,
    OrderRecord,
    ProductPage,
    ProductRecord,
)
from connectors.shopify import documents, mapping, order_input
from connectors.shopify.admin import ShopifyAdmin, describe_user_errors
from connectors.shopify.search import free_text, quoted

ORDER_GID_PREFIX = "gid://shopify/Order/"


class ShopifyEcommerce(ShopifyAdmin):
    async def products_by_sku(self, skus: Sequence[str]) -> dict[str, ProductRecord]:
        operation = "shopify.products_by_sku"
        variants = await self._variants_by_sku(operation, documents.PRODUCTS_BY_SKU, skus)
        with self._shape(operation):
            return {
                sku: mapping.product(
                    sku, node["price"], node["product"], page["shop"]["currencyCode"]
                )
                for sku, (node, page) in variants.items()
            }

    async def search_products(
        self, query: str | None, first: int, after: str | None
    ) -> ProductPage:
        """`first` products after `after`: one Shopify query per 100 (a query of more would
        exceed Shopify's 1,000-point cost cap), following its cursor until the page is full."""
        operation = "shopify.search_products"
        words = free_text(query or "")
        items: list[ProductRecord] = []
        cursor, has_next = after, True
        while True:
            variables = {
                "first": max(1, min(first - len(items), documents.PRODUCTS_PER_PAGE)),
                "after": cursor,
                "query": f"status:active {words}".strip(),
                # Shopify asks not to sort by relevance without search terms.
                "sortKey": "RELEVANCE" if words else "ID",
            }
            data = await self._graphql.query(
                operation, documents.SEARCH_PRODUCTS, variables, idempotent=True
            )
            with self._shape(operation):
                currency = data["shop"]["currencyCode"]
                listed = (
                    mapping.listed_product(e["node"], currency) for e in data["products"]["edges"]
                )
                items.extend(item for item in listed if item is not None)
                page = data["products"]["pageInfo"]
                cursor, has_next = page.get("endCursor"), bool(page["hasNextPage"])
            if not has_next or len(items) >= first:
                return ProductPage(items=items, end_cursor=cursor, has_next_page=has_next)

    async def orders(self, query: OrderQuery) -> list[OrderRecord]:
        # the shop's in-store sales are the POS's (ShopifyPos), not the online store's
        return await self._customer_orders(
            query,
            operation="shopify.orders",
            document=documents.CUSTOMER_ORDERS,
            channel=order_input.NOT_IN_STORE,
            per_page=documents.ORDERS_PER_PAGE,
        )

    async def order(self, order_id: str) -> OrderRecord | None:
        """One order by its gid; None when the shop has no such order (or the id is no
        order's)."""
        operation = "shopify.order"
        if not order_id.startswith(ORDER_GID_PREFIX):
            return None
        data = await self._graphql.query(
            operation, documents.ORDER_BY_ID, {"id": order_id}, idempotent=True
        )
        with self._shape(operation):
            node = data["order"]
            return mapping.order(node) if node else None

    async def order_by_number(self, number: str) -> OrderRecord | None:
        """The order Shopify shows as `number` (its name, `#1001`; `1001` is read the same)."""
        operation = "shopify.order_by_number"
        name = number.strip()
        if not name:
            return None
        if not name.startswith("#"):
            name = f"#{name}"
        data = await self._graphql.query(
            operation, documents.ORDER_BY_NAME, {"query": f"name:{quoted(name)}"}, idempotent=True
        )
        with self._shape(operation):
            edges = data["orders"]["edges"]
            found = [mapping.order(edge["node"]) for edge in edges]
        # the search may match more loosely than the name: keep the exact one
        return next((order for order in found if order.number == name), None)

    async def record_refund(
        self, order_id: str, payment_id: str, amount: Money, key: str, note: str | None = None
    ) -> str | None:
        """refundCreate, once per `key`: a REFUND of `amount` on the order's successful sale
        or capture that `payment_id` names. By its authorization code: the payment another
        system took and refunded (Square), which Shopify only records. By its transaction
        id: a sale Shopify's own gateway took, which this refund gives back through it.
        The Shopify refund id, or None when the order has no such sale. Shopify's refusal
        raises UpstreamRejected."""
        operation = "shopify.refund_create"
        data = await self._graphql.query(
            "shopify.order_transactions",
            documents.ORDER_TRANSACTIONS,
            {"id": order_id},
            idempotent=True,
        )
        with self._shape(operation):
            order = data["order"]
            transactions = order["transactions"] if order else []
            parent = next(
                (
                    t
                    for t in transactions
                    if payment_id in (t["authorizationCode"], t["id"])
                    and t["kind"] in ("SALE", "CAPTURE")
                    and t["status"] == "SUCCESS"
                ),
                None,
            )
        if parent is None:
            return None
        refund_input: dict[str, Any] = {
            "orderId": order_id,
            "notify": False,
            "transactions": [
                {
                    "amount": format(amount.amount, "f"),
                    "gateway": parent["gateway"],
                    "kind": "REFUND",
                    "orderId": order_id,
                    "parentId": parent["id"],
                }
            ],
        }
        if note:
            refund_input["note"] = note
        variables = {"input": refund_input, "key": key}
        data = await self._graphql.query(
            operation, documents.REFUND_CREATE, variables, idempotent=True
        )
        with self._shape(operation):
            payload = data["refundCreate"]
            if payload["userErrors"] or payload["refund"] is None:
                detail = describe_user_errors(payload["userErrors"])
                raise UpstreamRejected(self.service, operation, detail)
            return str(payload["refund"]["id"])

    async def place_order(self, draft: OrderDraft) -> OrderRecord:
        """orderCreate once per checkout key (ShopifyAdmin.place), channel ONLINE."""
        variant_by_sku = await self._variant_ids([line.sku for line in draft.lines])
        order = order_input.order_input(draft, variant_by_sku)
        return await self.place("shopify.place_order", draft, order, mapping.order)
