"""The shop's slice of the sandbox dataset, shaped and indexed once per app.

Every GraphQL object is prebuilt as the dict graphql-core's default resolver reads, with
money and dates already in Shopify's string formats, so serving a request only filters,
pages and copies references: the simulator stays cheap on the benchmarks' hot path.

Orders placed through `orderCreate` (order_create.py) are added here, per app: the dataset
is shared by every simulator and test, so it is never written to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sandbox.dataset import CURRENCY, Dataset, LineItem, OnlineOrder, Product, ShopCustomer
from sandbox.shopify import searchables

Graph = dict[str, Any]
WallClock = Callable[[], datetime]
# The namespace a metafield gets when none is given: Shopify uses the calling app's own.
APP_NAMESPACE = "$app"


def utc_now() -> datetime:
    return datetime.now(UTC)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def money_bag(amount: Decimal) -> Graph:
    value = {"amount": money(amount), "currencyCode": CURRENCY}
    return {"shopMoney": value, "presentmentMoney": value}


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
                "customer": self.customer.graph if self.customer else None,
                "_lines": lines,
                "_metafields": {},
            }
            self._graph.update(self._extra or {})
        return self._graph


class ShopData:
    """Rows, search indexes and a gid lookup for products, variants, customers, orders."""

    def __init__(
        self, dataset: Dataset, *, public_url: str, wall_clock: WallClock = utc_now
    ) -> None:
        self.wall_clock = wall_clock
        domain = "omnigate-sandbox.myshopify.com"
        self.shop: Graph = {
            "__typename": "Shop",
            "id": gid("Shop", 70_000_001),
            "name": "Omni Sandbox",
            "currencyCode": CURRENCY,
            "myshopifyDomain": domain,
            "url": public_url.rstrip("/"),
        }
        self.by_gid: dict[str, Graph] = {}
        product_rows = [self._product(p) for p in dataset.products]
        variant_of = {row.variant_id: row for row in product_rows}
        customer_rows = [self._customer(c) for c in dataset.shop_customers]
        customers = {row.id: row for row in customer_rows}
        order_counts: dict[int, int] = {}
        for order in dataset.online_orders:
            order_counts[order.customer_id] = order_counts.get(order.customer_id, 0) + 1
        for row in customer_rows:
            row.graph["numberOfOrders"] = str(order_counts.get(row.id, 0))
        order_rows = [
            OrderRow(o, customers.get(o.customer_id), variant_of) for o in dataset.online_orders
        ]
        self._orders_by_id = {row.id: row for row in order_rows}
        self._customers_by_id = customers
        self._variant_rows = variant_of
        # (namespace, key, value) of every `id` metafield on an order: custom IDs are unique.
        self._orders_by_custom_id: dict[tuple[str, str, str], OrderRow] = {}
        self._next_order_number = 1001 + len(dataset.online_orders)
        self._next_metafield_id = 1

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

    def custom_id_taken(self, namespace: str, key: str, value: str) -> bool:
        return (namespace, key, value) in self._orders_by_custom_id

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
