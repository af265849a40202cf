"""What the Shopify adapters share: the Admin GraphQL client, customers found by their
contact details, variants by SKU, and placing an order exactly once per key.

The e-commerce adapter (ecommerce.py) places web orders and the POS adapter (pos.py) store
orders through the same `orderCreate` with the same idempotency, so both sit on this base.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from connectors.errors import IdempotencyKeyReused, OrderRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import CustomerIdentity, OrderDraft, OrderQuery, OrderRecord
from connectors.shopify import documents, mapping, order_input
from connectors.shopify.graphql import ShopifyGraphql
from connectors.shopify.search import any_of, numeric_id, timestamp
from connectors.shopify.settings import ShopifySettings

OrderMapper = Callable[[mapping.Node], OrderRecord]


class ShopifyAdmin:
    def __init__(self, http: UpstreamHttp, settings: ShopifySettings) -> None:
        self.service = http.service
        self._graphql = ShopifyGraphql(http, settings)
        self._settings = settings

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        operation = "shopify.find_customers"
        wanted_emails = unique(e.strip() for e in emails if e and e.strip())
        wanted_phones = unique(p.strip() for p in phones if p and p.strip())
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

    async def place(
        self, operation: str, draft: OrderDraft, order: dict[str, Any], read: OrderMapper
    ) -> OrderRecord:
        """orderCreate of `order` (the draft's OrderCreateOrderInput) once per checkout key,
        with no idempotency from Shopify to lean on; `read` makes the record of the node.

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
        digest = order_input.fingerprint(order)
        shared = {
            "lines": max(1, min(len(draft.lines), documents.MAX_PLACED_LINES)),
            "namespace": self._settings.checkout_key_namespace,
            "fingerprintKey": order_input.FINGERPRINT_KEY,
        }
        placed = await self._placed_order(draft.idempotency_key, digest, shared, read)
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
                return read(created)
        placed = await self._placed_order(draft.idempotency_key, digest, shared, read)
        if placed is not None:
            return placed
        raise OrderRejected(self.service, operation, describe_user_errors(user_errors))

    async def _placed_order(
        self, key: str, digest: str, shared: dict[str, Any], read: OrderMapper
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
            record = read(node)
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
        wanted = unique(sku for sku in skus if sku)
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

    async def _customer_orders(
        self, query: OrderQuery, *, operation: str, document: str, channel: str, per_page: int
    ) -> list[OrderRecord]:
        """The customers' orders the search clause `channel` keeps (in store or not),
        newest first, read page by page up to `query.limit`."""
        customer_ids = unique(numeric_id(c) for c in query.customer_ids if c)
        if not customer_ids or query.limit <= 0:
            return []
        search = f"({any_of('customer_id', customer_ids)}) {channel}"
        if query.created_before is not None:
            search += f" created_at:<={timestamp(query.created_before)}"
        records: list[OrderRecord] = []
        variables: dict[str, Any] = {"after": None, "query": search}
        while len(records) < query.limit:
            variables["first"] = min(per_page, query.limit - len(records))
            data = await self._graphql.query(operation, document, variables, idempotent=True)
            with self._shape(operation):
                records += [mapping.order(edge["node"]) for edge in data["orders"]["edges"]]
                page = data["orders"]["pageInfo"]
            if not page["hasNextPage"]:
                break
            variables["after"] = page["endCursor"]
        return records[: query.limit]

    def _shape(self, operation: str) -> AbstractContextManager[None]:
        return shaped(self.service, operation)


@contextmanager
def shaped(service: str, operation: str) -> Iterator[None]:
    """An answer not shaped as the document asked is the upstream's failure, not ours."""
    try:
        yield
    except mapping.SHAPE_ERRORS as exc:
        raise UpstreamUnavailable(
            service, operation, f"unexpected response shape: {exc!r}"
        ) from exc


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def describe_user_errors(errors: Any) -> str:
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
