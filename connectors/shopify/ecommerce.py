"""The e-commerce port over the Shopify Admin GraphQL API.

Shopify holds the price every channel shows, so `products_by_sku` is omnigate's single
price source: a variant's price, with the shop's currency read in the same request. Reads
are batched as far as Shopify's single-query cost cap allows (see documents.py) and every
page is one call named `shopify.<method>` in metrics and errors. `place_order` is the one
write: `orderCreate`, made exactly-once by omnigate itself (see order_input.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from connectors.errors import (
    IdempotencyKeyReused,
    OrderRejected,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp
from connectors.records import (
    CustomerIdentity,
    Money,
    OrderDraft,
    OrderQuery,
    OrderRecord,
    ProductPage,
    ProductRecord,
)
from connectors.shopify import documents, mapping, order_input
from connectors.shopify.graphql import ShopifyGraphql
from connectors.shopify.search import any_of, free_text, numeric_id, quoted, timestamp
from connectors.shopify.settings import ShopifySettings

ORDER_GID_PREFIX = "gid://shopify/Order/"


class ShopifyEcommerce:
    def __init__(self, http: UpstreamHttp, settings: ShopifySettings) -> None:
        self.service = http.service
        self._graphql = ShopifyGraphql(http, settings)
        self._settings = settings

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
                data = await self._graphql.query(
                    operation, documents.FIND_CUSTOMERS, variables, idempotent=True
                )
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
            data = await self._graphql.query(
                operation, documents.CUSTOMER_ORDERS, variables, idempotent=True
            )
            with self._shape(operation):
                records += [mapping.order(edge["node"]) for edge in data["orders"]["edges"]]
                page = data["orders"]["pageInfo"]
            if not page["hasNextPage"]:
                break
            variables["after"] = page["endCursor"]
        return records[: query.limit]

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
                detail = _describe_user_errors(payload["userErrors"])
                raise UpstreamRejected(self.service, operation, detail)
            return str(payload["refund"]["id"])

    async def place_order(self, draft: OrderDraft) -> OrderRecord:
        """orderCreate once per checkout key, with no idempotency from Shopify to lean on.

        1. Look the key up by custom ID: an order with the same fingerprint is this checkout
           placed by an earlier attempt and is the answer; another fingerprint means the
           key was reused for other contents (IdempotencyKeyReused), and nothing is created.
        2. Otherwise create the order, carrying the key and the fingerprint as metafields.
           The mutation has no Shopify idempotency, so the transport never repeats it.
        3. If Shopify refuses it (userErrors), look the key up again: two attempts of one
           checkout that raced past step 1 both try to create, the key's custom ID is
           unique, and the loser finds the winner's order. Any other refusal is an
           OrderRejected.

        What remains: a create whose answer is lost surfaces as UpstreamUnavailable or
        UpstreamTimeout although the order exists; the caller's retry with the same key
        finds it in step 1. Uniqueness needs the shop's `id` metafield definition
        (ShopifySettings.checkout_key_*); custom-ID lookups see an order at once, unlike
        `orders(query:)`, whose search index lags.
        """
        operation = "shopify.place_order"
        variant_by_sku = await self._variant_ids([line.sku for line in draft.lines])
        order = order_input.order_input(draft, variant_by_sku)
        digest = order_input.fingerprint(order)
        shared = {
            "lines": max(1, min(len(draft.lines), documents.MAX_PLACED_LINES)),
            "namespace": self._settings.checkout_key_namespace,
            "fingerprintKey": order_input.FINGERPRINT_KEY,
        }
        placed = await self._placed_order(draft.idempotency_key, digest, shared)
        if placed is not None:
            return placed
        variables = {
            **shared,
            "order": order_input.with_checkout_metafields(
                order, draft.idempotency_key, digest, self._settings
            ),
            "options": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"},
        }
        data = await self._graphql.query(
            operation, documents.PLACE_ORDER, variables, idempotent=False
        )
        with self._shape(operation):
            payload = data["orderCreate"]
            user_errors = payload["userErrors"]
            created = payload["order"]
            if not user_errors and created is not None:
                return mapping.order(created)
        placed = await self._placed_order(draft.idempotency_key, digest, shared)
        if placed is not None:
            return placed
        raise OrderRejected(self.service, operation, _describe_user_errors(user_errors))

    async def _placed_order(
        self, key: str, digest: str, shared: dict[str, Any]
    ) -> OrderRecord | None:
        """The order `key` placed, if any; raises IdempotencyKeyReused if from another draft."""
        operation = "shopify.placed_order"
        identifier = {
            "customId": {
                "namespace": self._settings.checkout_key_namespace,
                "key": self._settings.checkout_key_key,
                "value": key,
            }
        }
        data = await self._graphql.query(
            operation, documents.PLACED_ORDER, {**shared, "identifier": identifier}, idempotent=True
        )
        with self._shape(operation):
            node = data["orderByIdentifier"]
            if node is None:
                return None
            stored = (node.get("fingerprint") or {}).get("value")
            record = mapping.order(node)
        if stored != digest:
            raise IdempotencyKeyReused(
                self.service, operation, f"{record.ref.id} was placed from another draft"
            )
        return record

    async def _variant_ids(self, skus: Sequence[str]) -> dict[str, str]:
        """Variant gid per SKU the shop has; absent SKUs become custom line items."""
        operation = "shopify.variant_ids"
        variants = await self._variants_by_sku(operation, documents.VARIANT_IDS_BY_SKU, skus)
        with self._shape(operation):
            return {sku: node["id"] for sku, (node, _) in variants.items()}

    async def _variants_by_sku(
        self, operation: str, document: str, skus: Sequence[str]
    ) -> dict[str, tuple[Any, Any]]:
        """The variant node of each SKU the shop has, in the order asked, with the response
        it came in (for shop-wide fields): Shopify's `sku:` search in batches, paged until
        every SKU of a batch is found or the pages end."""
        wanted = _unique(sku for sku in skus if sku)
        found: dict[str, tuple[Any, Any]] = {}
        for start in range(0, len(wanted), documents.SKUS_PER_REQUEST):
            batch = wanted[start : start + documents.SKUS_PER_REQUEST]
            missing = set(batch)
            variables: dict[str, Any] = {
                "first": len(batch),
                "after": None,
                "query": any_of("sku", batch),
            }
            while missing:
                data = await self._graphql.query(operation, document, variables, idempotent=True)
                with self._shape(operation):
                    for edge in data["productVariants"]["edges"]:
                        node = edge["node"]
                        sku = node.get("sku")
                        if sku in missing:  # search may match more loosely than SKU equality
                            found[sku] = (node, data)
                            missing.discard(sku)
                    page = data["productVariants"]["pageInfo"]
                if not page["hasNextPage"]:
                    break
                variables["after"] = page["endCursor"]
        return {sku: found[sku] for sku in wanted if sku in found}

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


def _describe_user_errors(errors: Any) -> str:
    """Shopify's userErrors as one log line (`CODE field.path: message; ...`)."""
    if not isinstance(errors, list) or not errors:
        return "orderCreate returned no order"
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        path = ".".join(str(part) for part in error.get("field") or [])
        head = " ".join(str(part) for part in (error.get("code") or "ERROR", path) if part)
        parts.append(f"{head}: {str(error.get('message', ''))[:200]}")
    return "; ".join(parts)[:500]


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
