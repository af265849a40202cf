"""Shopify POS as omnigate's PosPort: the shop's locations as stores, its customers (one
customer list serves the online store and the tills), in-store sales as receipts, and
store orders placed through `orderCreate` exactly once per key (ShopifyAdmin.place).

A receipt is an order whose `sourceName` is `pos` (rung up by Shopify's POS app, with its
`retailLocation` and `staffMember`) or `omnigate_store` (a store order omnigate placed,
its store in an order attribute: Shopify sets `retailLocation` only on its own POS app's
orders). Store ids are Shopify Location gids.

Shopify has no loyalty API, so this adapter is no LoyaltyPort: `OMNIGATE_ADAPTERS__LOYALTY`
`auto` keeps the points in omnigate's own ledger (gateway/wiring/loyalty.py).
"""

from __future__ import annotations

from typing import Any

from connectors.records import (
    Address,
    Channel,
    LocationRecord,
    OrderDraft,
    OrderPaymentState,
    OrderQuery,
    OrderRecord,
    System,
)
from connectors.shopify import documents, mapping, order_input, retail_documents
from connectors.shopify.admin import ShopifyAdmin
from connectors.shopify.ecommerce import ORDER_GID_PREFIX


class ShopifyPos(ShopifyAdmin):
    # one customer list for the online store and the tills: receipts take Shopify's ids
    system = System.SHOPIFY

    async def locations(self) -> list[LocationRecord]:
        """The shop's active locations; the one shipping online orders is the warehouse.
        Shopify's Location has no opening hours and no time zone: the shop's zone is used."""
        operation = "shopify.locations"
        found: list[LocationRecord] = []
        variables: dict[str, Any] = {
            "first": retail_documents.LOCATIONS_PER_PAGE,
            "after": None,
        }
        while True:
            data = await self._graphql.query(
                operation, retail_documents.LOCATIONS, variables, idempotent=True
            )
            with self._shape(operation):
                zone = data["shop"]["ianaTimezone"] or "UTC"
                found += [
                    self._location(edge["node"], zone)
                    for edge in data["locations"]["edges"]
                    if edge["node"]["isActive"]
                ]
                page = data["locations"]["pageInfo"]
            if not page["hasNextPage"]:
                return found
            variables["after"] = page["endCursor"]

    async def orders(self, query: OrderQuery) -> list[OrderRecord]:
        """The customers' store sales, newest first."""
        return await self._customer_orders(
            query,
            operation="shopify.store_orders",
            document=retail_documents.STORE_ORDERS,
            channel=order_input.IN_STORE,
            per_page=retail_documents.STORE_ORDERS_PER_PAGE,
        )

    async def order(self, order_id: str) -> OrderRecord | None:
        """A store sale by its gid; None for an id the shop does not know or an online order."""
        operation = "shopify.store_order"
        if not order_id.startswith(ORDER_GID_PREFIX):
            return None
        data = await self._graphql.query(
            operation, documents.ORDER_BY_ID, {"id": order_id}, idempotent=True
        )
        with self._shape(operation):
            node = data["order"]
            record = mapping.order(node) if node else None
        return record if record is not None and record.channel is Channel.STORE else None

    async def order_paid(self, order_id: str) -> bool:
        """Whether Shopify holds the store order paid (PosPaidOrders): Shopify POS records
        the terminal's payment on the order itself."""
        order = await self.order(order_id)
        return order is not None and order.payment is OrderPaymentState.PAID

    async def place_order(self, draft: OrderDraft) -> OrderRecord:
        """A store order, once per key, sold at the draft's store (`location_id`, a Location
        gid) and paid at the terminal: PENDING until then (Shopify POS takes the payment)."""
        variant_by_sku = await self._variant_ids([line.sku for line in draft.lines])
        order = order_input.store_order_input(draft, variant_by_sku)
        return await self.place("shopify.place_store_order", draft, order, mapping.order)

    def _location(self, node: mapping.Node, zone: str) -> LocationRecord:
        address = node["address"]
        return LocationRecord(
            id=node["id"],
            name=node["name"],
            address=Address(
                line1=address.get("address1") or "",
                line2=address.get("address2"),
                city=address.get("city") or "",
                region=address.get("provinceCode"),
                postal_code=address.get("zip") or "",
                country=address.get("countryCode") or "",
            ),
            timezone=zone,
            opening_hours=(),
            is_warehouse=node["id"] == self._settings.online_location_id,
            latitude=address.get("latitude"),
            longitude=address.get("longitude"),
            phone=address.get("phone"),
            external_refs=(mapping.ref(node["id"]),),
        )
