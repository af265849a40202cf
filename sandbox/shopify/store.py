"""The shop's slice of the sandbox dataset, shaped and indexed once per app.

Every GraphQL object is prebuilt as the dict graphql-core's default resolver reads, with
money and dates already in Shopify's string formats, so serving a request only filters,
pages and copies references: the simulator stays cheap on the benchmarks' hot path.

Orders placed through `orderCreate` (order_create.py) are added here, per app: the dataset
is shared by every simulator and test, so it is never written to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from sandbox.dataset import CURRENCY, Dataset, LineItem, Product, ShopCustomer
from sandbox.shopify import searchables
from sandbox.shopify.retail import Retail
from sandbox.shopify.rows import (
    CustomerRow,
    Graph,
    OrderRow,
    PlacedOrder,
    ProductRow,
    gid,
    iso,
    money,
    money_bag,
)

WallClock = Callable[[], datetime]
# The access scopes the sandbox grants its app: what omnigate's adapters need
# (connectors/shopify/check.py: Shopify as e-commerce, POS and inventory), and orders older
# than 60 days.
SANDBOX_ACCESS_SCOPES = (
    "read_products",
    "read_customers",
    "read_orders",
    "write_orders",
    "read_all_orders",
    "read_locations",
    "write_inventory",
    "read_users",
)
# The namespace a metafield gets when none is given: Shopify uses the calling app's own.
APP_NAMESPACE = "$app"


def utc_now() -> datetime:
    # Shopify's DateTime is whole seconds ("2019-09-07T15:50:00Z"), and so are its searches
    return datetime.now(UTC).replace(microsecond=0)


class ShopData:
    """Rows, search indexes and a gid lookup for products, variants, customers, orders."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        public_url: str,
        wall_clock: WallClock = utc_now,
        access_scopes: tuple[str, ...] = SANDBOX_ACCESS_SCOPES,
    ) -> None:
        self.wall_clock = wall_clock
        self.app_installation: Graph = {
            "__typename": "AppInstallation",
            "id": gid("AppInstallation", 70_000_002),
            "accessScopes": [
                {"handle": scope, "description": scope.replace("_", " ").capitalize()}
                for scope in access_scopes
            ],
        }
        domain = "omnigate-sandbox.myshopify.com"
        self.shop: Graph = {
            "__typename": "Shop",
            "id": gid("Shop", 70_000_001),
            "name": "Omni Sandbox",
            "currencyCode": CURRENCY,
            "myshopifyDomain": domain,
            "url": public_url.rstrip("/"),
            "ianaTimezone": "America/New_York",
        }
        self.retail = Retail(dataset)
        self.by_gid: dict[str, Graph] = self.retail.by_gid()
        product_rows = [self._product(p) for p in dataset.products]
        variant_of = {row.variant_id: row for row in product_rows}
        customer_rows = [self._customer(c) for c in dataset.shop_customers]
        customers = {row.id: row for row in customer_rows}
        order_rows = [
            OrderRow(o, customers.get(o.customer_id), variant_of) for o in dataset.online_orders
        ]
        order_rows += self._pos_orders(dataset, customers, variant_of)
        order_counts: dict[int, int] = {}
        for order_row in order_rows:
            buyer = order_row.order.customer_id
            if buyer is not None:
                order_counts[buyer] = order_counts.get(buyer, 0) + 1
        for row in customer_rows:
            row.graph["numberOfOrders"] = str(order_counts.get(row.id, 0))
        self._orders_by_id = {row.id: row for row in order_rows}
        self._customers_by_id = customers
        self._variant_rows = variant_of
        self._rows_by_sku = {row.product.sku: row for row in product_rows}
        # (namespace, key, value) of every `id` metafield on an order: custom IDs are unique.
        self._orders_by_custom_id: dict[tuple[str, str, str], OrderRow] = {}
        self._next_order_number = 1001 + len(order_rows)
        self._next_metafield_id = 1
        self._next_transaction_id = 7_100_000_000
        self._next_refund_id = 8_100_000_000
        # refundCreate's @idempotent keys -> (the request's fingerprint, its payload)
        self.refund_keys: dict[str, tuple[str, Graph]] = {}
        # inventoryAdjustQuantities' @idempotent keys, likewise
        self.inventory_keys: dict[str, tuple[str, Graph]] = {}
        self._next_adjustment_id = 9_700_000_000

        self.products = searchables.products(product_rows)
        self.variants = searchables.variants(product_rows)
        self.customers = searchables.customers(customer_rows)
        self.orders = searchables.orders(order_rows)

    def node(self, node_id: str) -> Graph | None:
        """The object a gid names, or None: what `node(id:)` and `nodes(ids:)` return."""
        if node_id.startswith("gid://shopify/Order/"):
            row = self._orders_by_id.get(_number(node_id))
            return row.graph if row else None
        return self.by_gid.get(node_id)

    def customer_row(self, customer_gid: str) -> CustomerRow | None:
        if not customer_gid.startswith("gid://shopify/Customer/"):
            return None
        return self._customers_by_id.get(_number(customer_gid))

    def variant_row(self, variant_gid: str) -> ProductRow | None:
        if not variant_gid.startswith("gid://shopify/ProductVariant/"):
            return None
        return self._variant_rows.get(_number(variant_gid))

    def set_price(self, sku: str, price: Decimal) -> Graph | None:
        """What a merchant's price edit in the admin does: the variant carrying `sku` costs
        `price` from now on (and is updated now); None for an unknown SKU."""
        row = self._rows_by_sku.get(sku)
        if row is None:
            return None
        row.product = replace(row.product, price=price)
        row.variant["price"] = money(price)
        row.variant["updatedAt"] = row.graph["updatedAt"] = iso(self.wall_clock())
        return row.variant

    def mark_pickup(self, order_id: int, display_status: str) -> Graph | None:
        """What store staff do to a local-pickup order in the Shopify admin or POS: its
        fulfillment shows `display_status` (READY_FOR_PICKUP once prepared, the way
        `fulfillmentOrderLineItemsPreparedForPickup` marks it; then PICKED_UP, which
        fulfils the order). None for an unknown order."""
        row = self._orders_by_id.get(order_id)
        if row is None:
            return None
        graph = row.graph
        fulfillments: list[Graph] = graph.setdefault("_fulfillments", [])
        if not fulfillments:
            fulfillments.append({"__typename": "Fulfillment", "id": gid("Fulfillment", order_id)})
        fulfillments[0]["displayStatus"] = display_status
        if display_status == "PICKED_UP":
            graph["displayFulfillmentStatus"] = "FULFILLED"
            row.order = replace(row.order, fulfillment_status="FULFILLED")
        graph["updatedAt"] = iso(self.wall_clock())
        return graph

    def pay_at_terminal(self, order_id: int) -> Graph | None:
        """What Shopify POS does when a pending store order is paid at the till: a
        successful SALE for what is due, and the order PAID. None for an unknown order."""
        row = self._orders_by_id.get(order_id)
        if row is None:
            return None
        graph = row.graph
        if graph["displayFinancialStatus"] != "PAID":
            moment = iso(self.wall_clock())
            graph["transactions"] = [
                *graph["transactions"],
                {
                    "__typename": "OrderTransaction",
                    "id": f"gid://shopify/OrderTransaction/{self.next_transaction_id()}",
                    "kind": "SALE",
                    "status": "SUCCESS",
                    "gateway": "shopify_payments",
                    "authorizationCode": None,
                    "amountSet": graph["totalPriceSet"],
                    "createdAt": moment,
                    "processedAt": moment,
                    "test": False,
                },
            ]
            graph["displayFinancialStatus"] = "PAID"
            graph["updatedAt"] = moment
            row.order = replace(row.order, financial_status="PAID")
        return graph

    def order_by_custom_id(self, namespace: str | None, key: str, value: str) -> Graph | None:
        row = self._orders_by_custom_id.get((namespace or APP_NAMESPACE, key, value))
        return row.graph if row else None

    def place_order(
        self,
        lines: list[LineItem],
        customer: CustomerRow | None,
        discount: Decimal,
        financial_status: str,
        extra: Graph,
        metafields: list[tuple[str, str, str, str]],
    ) -> Graph:
        """A new order, found from now on by `orders`, `order`, `node` and its custom IDs.

        `metafields` are (namespace, key, type, value), already checked for uniqueness.
        """
        number = self._next_order_number
        self._next_order_number += 1
        subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
        applied = min(discount, subtotal)
        order = PlacedOrder(
            id=5_600_000_000 + number,
            name=f"#{number}",
            customer_id=customer.id if customer else None,
            created_at=self.wall_clock(),
            line_items=tuple(lines),
            total=subtotal - applied,
            financial_status=financial_status,
        )
        stored: dict[tuple[str, str], Graph] = {}
        for namespace, key, kind, value in metafields:
            stored[namespace, key] = {
                "__typename": "Metafield",
                "id": gid("Metafield", self._next_metafield_id),
                "namespace": namespace,
                "key": key,
                "type": kind,
                "value": value,
            }
            self._next_metafield_id += 1
        extra = {
            **extra,
            "subtotalPriceSet": money_bag(subtotal),
            "totalDiscountsSet": money_bag(applied),
            "_metafields": stored,
        }
        row = OrderRow(order, customer, self._variant_rows, extra)
        self._orders_by_id[row.id] = row
        self.orders.add(row)
        for namespace, key, kind, value in metafields:
            if kind == "id":
                self._orders_by_custom_id[namespace, key, value] = row
        if customer is not None:
            count = int(customer.graph.get("numberOfOrders") or 0)
            customer.graph["numberOfOrders"] = str(count + 1)
        return row.graph

    def next_adjustment_id(self) -> int:
        self._next_adjustment_id += 1
        return self._next_adjustment_id

    def next_refund_id(self) -> int:
        self._next_refund_id += 1
        return self._next_refund_id

    def next_transaction_id(self) -> int:
        self._next_transaction_id += 1
        return self._next_transaction_id

    def custom_id_taken(self, namespace: str, key: str, value: str) -> bool:
        return (namespace, key, value) in self._orders_by_custom_id

    def _pos_orders(
        self,
        dataset: Dataset,
        customers: dict[int, CustomerRow],
        variants: dict[int, ProductRow],
    ) -> list[OrderRow]:
        """The dataset's in-store receipts as Shopify POS orders, numbered after the online
        ones (one order sequence per shop), each with the Shopify customer of its person."""
        person_of = {c.id: c.person_key for c in dataset.pos_customers}
        shop_id_of = {c.person_key: c.id for c in dataset.shop_customers}
        rows = []
        first = 1001 + len(dataset.online_orders)
        for offset, receipt in enumerate(dataset.pos_orders):
            buyer = shop_id_of.get(person_of.get(receipt.customer_id, -1))
            order = self.retail.pos_order(receipt, first + offset, buyer)
            customer = customers.get(buyer) if buyer is not None else None
            rows.append(OrderRow(order, customer, variants, self.retail.pos_extra(receipt)))
        return rows

    def _product(self, product: Product) -> ProductRow:
        pid = product.shopify_product_id
        images = [
            {"id": gid("ProductImage", pid * 10 + n), "url": url, "altText": product.title}
            for n, url in enumerate(product.image_urls)
        ]
        media = [
            {
                "__typename": "MediaImage",
                "id": gid("MediaImage", pid * 10 + n),
                "alt": product.title,
                "mediaContentType": "IMAGE",
                "image": image,
                "preview": {"image": image},
            }
            for n, image in enumerate(images)
        ]
        graph: Graph = {
            "__typename": "Product",
            "id": gid("Product", pid),
            "title": product.title,
            "handle": product.handle,
            "description": product.description,
            "descriptionHtml": f"<p>{product.description}</p>",
            "productType": product.category,
            "vendor": product.vendor,
            "status": "ACTIVE",
            "tags": [product.category.lower()],
            "createdAt": iso(product.created_at),
            "updatedAt": iso(product.updated_at),
            "featuredMedia": media[0] if media else None,
            "featuredImage": images[0] if images else None,
            "_media": media,
            "_images": images,
        }
        variant: Graph = {
            "__typename": "ProductVariant",
            "id": gid("ProductVariant", product.shopify_variant_id),
            "sku": product.sku,
            "barcode": None,
            "title": "Default Title",
            "displayName": f"{product.title} - Default Title",
            "price": money(product.price),
            "compareAtPrice": None,
            "createdAt": iso(product.created_at),
            "updatedAt": iso(product.updated_at),
            "product": graph,
            "inventoryItem": self.retail.items_by_sku[product.sku],
        }
        graph["_variants"] = [variant]
        for node in (graph, variant, *media):
            self.by_gid[node["id"]] = node
        return ProductRow(pid, product, graph, variant, product.shopify_variant_id)

    def _customer(self, customer: ShopCustomer) -> CustomerRow:
        graph: Graph = {
            "__typename": "Customer",
            "id": gid("Customer", customer.id),
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "displayName": f"{customer.first_name} {customer.last_name}",
            "email": customer.email,
            "phone": customer.phone,
            "defaultEmailAddress": {"emailAddress": customer.email} if customer.email else None,
            "defaultPhoneNumber": {"phoneNumber": customer.phone} if customer.phone else None,
            "createdAt": iso(customer.created_at),
            "updatedAt": iso(customer.updated_at),
        }
        self.by_gid[graph["id"]] = graph
        return CustomerRow(customer.id, customer, graph)


def _number(node_id: str) -> int:
    try:
        return int(node_id.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return -1
