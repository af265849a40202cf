"""Catalog search pages with a cursor on every edge.

The vendor hands out a cursor per page; Relay wants one per edge. An omnigate cursor is
(the vendor cursor the page started after, how many items of that page are behind us), so
resuming from any edge costs one vendor call, and `endCursor` is simply (vendor end, 0).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from commerce.orders import InvalidCursor
from connectors.ports import EcommercePort
from connectors.records import ProductRecord


@dataclass(frozen=True, slots=True)
class ProductEdge:
    cursor: str
    node: ProductRecord


@dataclass(frozen=True, slots=True)
class ProductSearchPage:
    edges: list[ProductEdge]
    end_cursor: str | None
    has_next_page: bool


def encode_product_cursor(vendor_cursor: str | None, skip: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([vendor_cursor, skip]).encode()).decode()


def product_cursor_encoder(vendor_cursor: str | None) -> Callable[[int], str]:
    """`encode_product_cursor` for the edges of one vendor page: the vendor cursor's JSON
    is written once, not once per edge."""
    head = json.dumps([vendor_cursor, 0])[: -len("0]")]  # '["<vendor cursor>", '
    return lambda skip: base64.urlsafe_b64encode(f"{head}{skip}]".encode()).decode()


def decode_product_cursor(cursor: str) -> tuple[str | None, int]:
    try:
        vendor_cursor, skip = json.loads(base64.urlsafe_b64decode(cursor))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise InvalidCursor(cursor) from exc
    if not (vendor_cursor is None or isinstance(vendor_cursor, str)) or not isinstance(skip, int):
        raise InvalidCursor(cursor)
    if skip < 0:
        raise InvalidCursor(cursor)
    return vendor_cursor, skip


async def search_products(
    ecommerce: EcommercePort, query: str | None, first: int, after: str | None
) -> ProductSearchPage:
    vendor_after, skip = decode_product_cursor(after) if after else (None, 0)
    page = await ecommerce.search_products(query, first + skip, vendor_after)
    items = page.items[skip:]
    cursor = product_cursor_encoder(vendor_after)
    edges = [
        ProductEdge(cursor(skip + index + 1), item) for index, item in enumerate(items[:first])
    ]
    if len(items) > first:
        # the page holds more than asked: resume inside it, not after it
        return ProductSearchPage(edges, edges[-1].cursor if edges else after, True)
    end = encode_product_cursor(page.end_cursor, 0) if page.end_cursor else None
    return ProductSearchPage(edges, end if edges else after, page.has_next_page)
