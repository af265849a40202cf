"""Each resource's filter fields and sort keys, as the Admin API reference lists them.

The `query:` filters Shopify documents for products, productVariants, customers and
orders that the dataset can answer, with the kind of match each one does, and the exact-
value indexes that keep the connector's lookups (sku, email, phone, customer_id) cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.shopify.filters import Searchable
from sandbox.shopify.predicates import Field

if TYPE_CHECKING:
    from sandbox.shopify.rows import CustomerRow, OrderRow, ProductRow


def products(rows: list[ProductRow]) -> Searchable[ProductRow]:
    s = Searchable(
        rows=rows,
        row_id=lambda r: r.id,
        fields={
            "id": Field("number", lambda r: r.id),
            "title": Field("text", lambda r: r.product.title),
            "handle": Field("keyword", lambda r: r.product.handle),
            "product_type": Field("text", lambda r: r.product.category),
            "vendor": Field("text", lambda r: r.product.vendor),
            "sku": Field("keyword", lambda r: r.product.sku),
            "status": Field("keyword", lambda r: "active"),
            "tag": Field("keyword", lambda r: r.product.category.lower()),
            "created_at": Field("date", lambda r: r.product.created_at),
            "updated_at": Field("date", lambda r: r.product.updated_at),
        },
        free_text=(
            lambda r: r.product.title,
            lambda r: r.product.vendor,
            lambda r: r.product.category,
            lambda r: r.product.sku,
        ),
        sort_keys={
            "TITLE": lambda r: r.product.title,
            "CREATED_AT": lambda r: r.product.created_at,
            "UPDATED_AT": lambda r: r.product.updated_at,
            "PRODUCT_TYPE": lambda r: r.product.category,
            "VENDOR": lambda r: r.product.vendor,
        },
    )
    s.index("sku")
    s.index("id")
    return s


def variants(rows: list[ProductRow]) -> Searchable[ProductRow]:
    s = Searchable(
        rows=sorted(rows, key=lambda r: r.variant_id),
        row_id=lambda r: r.variant_id,
        fields={
            "id": Field("number", lambda r: r.variant_id),
            "sku": Field("keyword", lambda r: r.product.sku),
            "product_id": Field("number", lambda r: r.id),
            "title": Field("text", lambda r: r.product.title),
            "product_type": Field("text", lambda r: r.product.category),
            "vendor": Field("text", lambda r: r.product.vendor),
            "updated_at": Field("date", lambda r: r.product.updated_at),
        },
        free_text=(lambda r: r.product.title, lambda r: r.product.sku),
        sort_keys={"SKU": lambda r: r.product.sku, "TITLE": lambda r: r.product.title},
    )
    s.index("sku")
    s.index("id")
    s.index("product_id")
    return s


def customers(rows: list[CustomerRow]) -> Searchable[CustomerRow]:
    s = Searchable(
        rows=rows,
        row_id=lambda r: r.id,
        fields={
            "id": Field("number", lambda r: r.id),
            "email": Field("keyword", lambda r: r.customer.email),
            "phone": Field("phone", lambda r: r.customer.phone),
            "first_name": Field("text", lambda r: r.customer.first_name),
            "last_name": Field("text", lambda r: r.customer.last_name),
            "customer_date": Field("date", lambda r: r.customer.created_at),
            "created_at": Field("date", lambda r: r.customer.created_at),
            "updated_at": Field("date", lambda r: r.customer.updated_at),
        },
        free_text=(
            lambda r: r.customer.first_name,
            lambda r: r.customer.last_name,
            lambda r: r.customer.email,
            lambda r: r.customer.phone,
        ),
        sort_keys={
            "CREATED_AT": lambda r: r.customer.created_at,
            "UPDATED_AT": lambda r: r.customer.updated_at,
            "NAME": lambda r: (r.customer.first_name, r.customer.last_name),
        },
    )
    for name in ("email", "phone", "id"):
        s.index(name)
    return s


def orders(rows: list[OrderRow]) -> Searchable[OrderRow]:
    s = Searchable(
        rows=sorted(rows, key=lambda r: r.id),
        row_id=lambda r: r.id,
        fields={
            "id": Field("number", lambda r: r.id),
            "name": Field("keyword", lambda r: r.order.name),
            "customer_id": Field("number", lambda r: r.order.customer_id),
            "created_at": Field("date", lambda r: r.order.created_at),
            "processed_at": Field("date", lambda r: r.order.created_at),
            "updated_at": Field("date", lambda r: r.order.created_at),
            "financial_status": Field("keyword", lambda r: r.order.financial_status),
            "fulfillment_status": Field("keyword", lambda r: r.order.fulfillment_status),
            "sku": Field("text", lambda r: " ".join(li.sku for li in r.order.line_items)),
            "source_name": Field("keyword", lambda r: r.source_name),
            "location_id": Field("number", lambda r: r.location_number),
        },
        free_text=(lambda r: r.order.name,),
        sort_keys={
            "CREATED_AT": lambda r: r.order.created_at,
            "PROCESSED_AT": lambda r: r.order.created_at,
            "UPDATED_AT": lambda r: r.order.created_at,
            "ORDER_NUMBER": lambda r: r.id,
            "TOTAL_PRICE": lambda r: r.order.total,
        },
    )
    s.index("customer_id")
    s.index("id")
    return s
