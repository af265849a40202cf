"""The e-commerce port over the Shopify Admin GraphQL API.

Shopify holds the price every channel shows, so `products_by_sku` is omnigate's single
price source: a variant's price, with the shop's currency read in the same request. Reads
are batched as far as Shopify's single-query cost cap allows (see documents.py) and every
page is one call named `shopify.<method>` in metrics and errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from connectors.errors import UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import CustomerIdentity, OrderQuery, OrderRecord, ProductPage, ProductRecord
from connectors.shopify import documents, mapping
from connectors.shopify.graphql import ShopifyGraphql
from connectors.shopify.search import any_of, free_text, numeric_id, timestamp
from connectors.shopify.settings import ShopifySettings


class ShopifyEcommerce:
    def __init__(self, http: UpstreamHttp, settings: ShopifySettings) -> None:
        self.service = http.service
        self._graphql = ShopifyGraphql(http, settings)

    async def products_by_sku(self, skus: Sequence[str]) -> dict[str, ProductRecord]:
        wanted = _unique(sku for sku in skus if sku)
        found: dict[str, ProductRecord] = {}
        for start in range(0, len(wanted), documents.SKUS_PER_REQUEST):
            await self._fetch_skus(wanted[start : start + documents.SKUS_PER_REQUEST], found)
        return {sku: found[sku] for sku in wanted if sku in found}

    async def _fetch_skus(self, batch: list[str], found: dict[str, ProductRecord]) -> None:
        operation = "shopify.products_by_sku"
        missing = set(batch)
        variables: dict[str, Any] = {
            "first": len(batch),
            "after": None,
            "query": any_of("sku", batch),
        }
        while missing:
            data = await self._graphql.query(operation, documents.PRODUCTS_BY_SKU, variables)
            with self._shape(operation):
                currency = data["shop"]["currencyCode"]
                for edge in data["productVariants"]["edges"]:
                    node = edge["node"]
                    sku = node.get("sku")
                    if sku in missing:  # search may match more loosely than SKU equality
                        found[sku] = mapping.product(sku, node["price"], node["product"], currency)
                        missing.discard(sku)
                page = data["productVariants"]["pageInfo"]
            if not page["hasNextPage"]:
                return
            variables["after"] = page["endCursor"]

    async def search_products(
        self, query: str | None, first: int, after: str | None
    ) -> ProductPage:
        operation = "shopify.search_products"
        words = free_text(query or "")
        variables = {
            "first": max(1, min(first, documents.PRODUCTS_PER_PAGE)),
            "after": after,
            "query": f"status:active {words}".strip(),
            # Shopify asks not to sort by relevance without search terms.
            "sortKey": "RELEVANCE" if words else "ID",
        }
        data = await self._graphql.query(operation, documents.SEARCH_PRODUCTS, variables)
        with self._shape(operation):
            currency = data["shop"]["currencyCode"]
            listed = (
                mapping.listed_product(e["node"], currency) for e in data["products"]["edges"]
            )
            page = data["products"]["pageInfo"]
            return ProductPage(
                items=[item for item in listed if item is not None],
                end_cursor=page.get("endCursor"),
                has_next_page=bool(page["hasNextPage"]),
            )

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        operation = "shopify.find_customers"
        wanted_emails = _unique(e.strip() for e in emails if e and e.strip())
        wanted_phones = _unique(p.strip() for p in phones if p and p.strip())
        terms = [any_of("email", [e]) for e in wanted_emails] + [
            any_of("phone", [p]) for p in wanted_phones
        ]
        emails_lower = {e.lower() for e in wanted_emails}
        phone_digits = {_digits(p) for p in wanted_phones}
        matched: dict[str, CustomerIdentity] = {}
        for start in range(0, len(terms), documents.CONTACTS_PER_REQUEST):
            batch = terms[start : start + documents.CONTACTS_PER_REQUEST]
            variables: dict[str, Any] = {
                # Room for a few records per detail, without paying for 250 every time.
                "first": min(documents.CUSTOMERS_PER_PAGE, max(10, 2 * len(batch))),
                "after": None,
                "query": " OR ".join(batch),
            }
            while True:
                data = await self._graphql.query(operation, documents.FIND_CUSTOMERS, variables)
                with self._shape(operation):
                    for edge in data["customers"]["edges"]:
                        person = mapping.customer(edge["node"])
                        # Shopify's search is fuzzier than the port's promise: keep exact matches.
                        if (person.email or "").lower() in emails_lower or (
                            person.phone and _digits(person.phone) in phone_digits
                        ):
                            matched[person.ref.id] = person
                    page = data["customers"]["pageInfo"]
                if not page["hasNextPage"]:
                    break
                variables["after"] = page["endCursor"]
        return list(matched.values())

    async def orders(self, query: OrderQuery) -> list[OrderRecord]:
        operation = "shopify.orders"
        customer_ids = _unique(numeric_id(c) for c in query.customer_ids if c)
        if not customer_ids or query.limit <= 0:
            return []
        search = f"({any_of('customer_id', customer_ids)})"
        if query.created_before is not None:
            search += f" created_at:<={timestamp(query.created_before)}"
        records: list[OrderRecord] = []
        variables: dict[str, Any] = {"after": None, "query": search}
        while len(records) < query.limit:
            variables["first"] = min(documents.ORDERS_PER_PAGE, query.limit - len(records))
            data = await self._graphql.query(operation, documents.CUSTOMER_ORDERS, variables)
            with self._shape(operation):
                records += [mapping.order(edge["node"]) for edge in data["orders"]["edges"]]
                page = data["orders"]["pageInfo"]
            if not page["hasNextPage"]:
                break
            variables["after"] = page["endCursor"]
        return records[: query.limit]

    @contextmanager
    def _shape(self, operation: str) -> Iterator[None]:
        try:
            yield
        except mapping.SHAPE_ERRORS as exc:
            raise UpstreamUnavailable(
                self.service, operation, f"unexpected response shape: {exc!r}"
            ) from exc


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
