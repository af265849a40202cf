"""Square as omnigate's PosPort and LoyaltyPort: locations, in-store customers, receipts,
loyalty (Square Loyalty), and placing store orders through CreateOrder (see
order_request.py for the body)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import (
    CustomerIdentity,
    LocationRecord,
    LoyaltyAccountRecord,
    LoyaltyMovement,
    LoyaltyPointsChange,
    OrderDraft,
    OrderQuery,
    OrderRecord,
)
from connectors.square import mapping
from connectors.square.catalog import VariationCatalog
from connectors.square.client import SquareClient, chunks
from connectors.square.order_request import create_order_body
from connectors.square.settings import SquareSettings

# SearchCustomers: limit 1..100. BulkRetrieveCustomers: 1..100 ids.
CUSTOMERS_PAGE_LIMIT = 100
CUSTOMERS_PER_BULK_RETRIEVE = 100
# SearchOrders: at most 10 location_ids and 10 customer_filter.customer_ids; limit max 1000.
ORDER_LOCATIONS_PER_SEARCH = 10
ORDER_CUSTOMERS_PER_SEARCH = 10
ORDERS_PAGE_LIMIT = 1000
# SearchLoyaltyAccounts: at most 30 customer_ids; limit 1..30.
LOYALTY_CUSTOMERS_PER_SEARCH = 30
# SearchLoyaltyEvents: limit 1..30.
LOYALTY_EVENTS_PAGE_LIMIT = 30
# CustomerFilter.phone_number exact "must be of an E.164-compliant form".
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_FORMATTING = re.compile(r"[\s\-().]")
# Square's object ids: letters, digits, dashes (loyalty accounts are UUIDs), underscores
_SQUARE_ID = re.compile(r"^[A-Za-z0-9_-]{1,192}$")


class SquarePos:
    """PosPort and LoyaltyPort: Square Loyalty keeps the points of Square's customers."""

    # AccumulateLoyaltyPoints takes a Square order id and applies the program's accrual rules
    accrues_pos_orders = True

    def __init__(
        self,
        http: UpstreamHttp,
        settings: SquareSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = http.service
        self._client = SquareClient(http, settings)
        self._settings = settings
        self._clock = clock
        self._catalog = VariationCatalog(self._client, settings.catalog_cache_seconds, clock)
        self._location_ids: tuple[list[str], float] | None = None  # (ids, expires_at)

    @property
    def catalog(self) -> VariationCatalog:
        """The SKU <-> variation id mapping this adapter keeps, for SquareInventory to share."""
        return self._catalog

    async def locations(self) -> list[LocationRecord]:
        operation = "square.locations.list"
        payload = await self._client.call(operation, "GET", "/v2/locations", idempotent=True)
        with self._shape_errors(operation):
            found = [loc for loc in payload.get("locations") or [] if isinstance(loc, dict)]
            self._location_ids = (
                [loc["id"] for loc in found],
                self._clock() + self._settings.catalog_cache_seconds,
            )
            # ListLocations includes closed locations; only ACTIVE ones are stores to show.
            return [
                mapping.location(loc, self._settings.online_location_id)
                for loc in found
                if loc.get("status", "ACTIVE") == "ACTIVE"
            ]

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        """One exact search per email and per phone: Square's CustomerFilter holds one value."""
        filters = [{"email_address": {"exact": e.strip()}} for e in emails if e.strip()]
        # Square refuses a non-E.164 exact phone; the gateway matches on E.164, so others skip.
        for phone in phones:
            compact = _PHONE_FORMATTING.sub("", phone)
            if _E164.match(compact):
                filters.append({"phone_number": {"exact": compact}})
        found = await asyncio.gather(*(self._search_customers(f) for f in _unique_filters(filters)))
        unique: dict[str, CustomerIdentity] = {}
        for match in (c for batch in found for c in batch):
            unique.setdefault(match.ref.id, match)
        return list(unique.values())

    async def customers_by_id(self, ids: Sequence[str]) -> dict[str, CustomerIdentity]:
        """Customers by Square id, 100 per BulkRetrieveCustomers call; unknown ids are absent."""
        batches = chunks(list(dict.fromkeys(ids)), CUSTOMERS_PER_BULK_RETRIEVE)
        answers = await asyncio.gather(*(self._bulk_retrieve(batch) for batch in batches))
        return {c.ref.id: c for batch in answers for c in batch}

    async def orders(self, query: OrderQuery) -> list[OrderRecord]:
        """Newest first across every location; `created_before` inclusive like Square's ranges."""
        customers = list(dict.fromkeys(query.customer_ids))
        if not customers or query.limit <= 0:
            return []
        locations = await self._all_location_ids()
        searches = [
            self._search_orders(location_batch, customer_batch, query)
            for location_batch in chunks(locations, ORDER_LOCATIONS_PER_SEARCH)
            for customer_batch in chunks(customers, ORDER_CUSTOMERS_PER_SEARCH)
        ]
        raw = [order for batch in await asyncio.gather(*searches) for order in batch]
        operation = "square.orders.search"
        with self._shape_errors(operation):
            unique = {o["id"]: o for o in raw}
            variation_ids = [
                line["catalog_object_id"]
                for o in unique.values()
                for line in o.get("line_items") or []
                if line.get("catalog_object_id")
            ]
            skus = await self._catalog.skus(variation_ids)
            records = [mapping.order(o, skus) for o in unique.values()]
        records.sort(key=lambda r: (r.created_at, r.ref.id), reverse=True)
        return records[: query.limit]

    async def order(self, order_id: str) -> OrderRecord | None:
        """BatchRetrieveOrders for one id: Square ignores an id it does not know."""
        operation = "square.orders.batch_retrieve"
        if not order_id or order_id.startswith("gid://"):
            return None
        body = {"order_ids": [order_id]}
        payload = await self._client.call(
            operation, "POST", "/v2/orders/batch-retrieve", body, idempotent=True
        )
        with self._shape_errors(operation):
            found = [o for o in payload.get("orders") or [] if o.get("id") == order_id]
            if not found:
                return None
            variation_ids = [
                line["catalog_object_id"]
                for line in found[0].get("line_items") or []
                if line.get("catalog_object_id")
            ]
            skus = await self._catalog.skus(variation_ids)
            return mapping.order(found[0], skus)

    async def place_order(self, draft: OrderDraft) -> OrderRecord:
        """CreateOrder with the draft's key as Square's `idempotency_key`.

        Square itself makes this exactly-once: a retry with the same key and body answers
        the order the first attempt created, the same key with another body is refused
        with IDEMPOTENCY_KEY_REUSED. So the transport may repeat this call. An order
        without a location is rung up at the online fulfilment location.
        """
        operation = "square.orders.create"
        variation_by_sku = await self._catalog.variation_ids([line.sku for line in draft.lines])
        location_id = draft.location_id or self._settings.online_location_id
        body = create_order_body(draft, location_id, variation_by_sku)
        payload = await self._client.call(operation, "POST", "/v2/orders", body, idempotent=True)
        with self._shape_errors(operation):
            sku_by_variation = {vid: sku for sku, vid in variation_by_sku.items()}
            return mapping.order(payload["order"], sku_by_variation)

    async def loyalty_accounts(self, customer_ids: Sequence[str]) -> list[LoyaltyAccountRecord]:
        batches = chunks(list(dict.fromkeys(customer_ids)), LOYALTY_CUSTOMERS_PER_SEARCH)
        found = await asyncio.gather(*(self._search_loyalty(batch) for batch in batches))
        return [account for batch in found for account in batch]

    async def loyalty_account(self, account_id: str) -> LoyaltyAccountRecord | None:
        """RetrieveLoyaltyAccount; Square answers 404 NOT_FOUND for an id it does not know.
        An account with no customer (a phone mapping never claimed) is no one to find."""
        operation = "square.loyalty.retrieve_account"
        if not _SQUARE_ID.match(account_id):
            return None  # not an id Square could have given (and nothing to put in a path)
        path = f"/v2/loyalty/accounts/{account_id}"
        try:
            payload = await self._client.call(operation, "GET", path, idempotent=True)
        except UpstreamRejected as exc:
            if exc.status == 404:
                return None
            raise
        with self._shape_errors(operation):
            account = payload["loyalty_account"]
            return mapping.loyalty_account(account) if account.get("customer_id") else None

    async def loyalty_movements(
        self, account_id: str, limit: int, created_before: datetime | None = None
    ) -> list[LoyaltyMovement]:
        """SearchLoyaltyEvents for one account, newest first. Square's `end_at` is
        exclusive, so the bound is sent a second later and applied here, inclusive."""
        operation = "square.loyalty.search_events"
        if limit <= 0:
            return []
        event_filter: dict[str, Any] = {
            "loyalty_account_filter": {"loyalty_account_id": account_id}
        }
        if created_before is not None:
            end_at = _rfc3339(created_before + timedelta(seconds=1))
            event_filter["date_time_filter"] = {"created_at": {"end_at": end_at}}
        body = {"query": {"filter": event_filter}, "limit": min(limit, LOYALTY_EVENTS_PAGE_LIMIT)}
        found: list[LoyaltyMovement] = []
        async for page in self._client.pages(operation, "/v2/loyalty/events/search", body):
            with self._shape_errors(operation):
                movements = (mapping.loyalty_movement(e) for e in page.get("events") or [])
                found.extend(m for m in movements if m is not None)
            if len(found) >= limit:
                break
        if created_before is not None:
            found = [m for m in found if m.created_at <= created_before]
        found.sort(key=lambda m: (m.created_at, m.ref.id), reverse=True)
        return found[:limit]

    async def accumulate_loyalty_points(
        self,
        account_id: str,
        *,
        idempotency_key: str,
        location_id: str,
        order_id: str | None = None,
        points: int | None = None,
    ) -> LoyaltyPointsChange:
        """AccumulateLoyaltyPoints: with `order_id` for a Square order (Square computes the
        points from the program's accrual rules), else with the `points` the caller
        computed; Square's `idempotency_key` makes a retry answer the first event."""
        operation = "square.loyalty.accumulate_points"
        accumulate: dict[str, Any] = {"order_id": order_id} if order_id else {"points": points}
        body = {
            "accumulate_points": accumulate,
            "idempotency_key": idempotency_key,
            "location_id": location_id,
        }
        path = f"/v2/loyalty/accounts/{account_id}/accumulate"
        payload = await self._client.call(operation, "POST", path, body, idempotent=True)
        with self._shape_errors(operation):
            events = [e for e in payload.get("events") or [] if isinstance(e, dict)]
            earned = sum(int(e["accumulate_points"]["points"]) for e in events)
            return LoyaltyPointsChange(account_id, earned, events[0]["id"] if events else "")

    async def adjust_loyalty_points(
        self, account_id: str, points: int, *, idempotency_key: str, reason: str
    ) -> LoyaltyPointsChange:
        """AdjustLoyaltyPoints; a negative adjustment past the balance is refused (400)."""
        operation = "square.loyalty.adjust_points"
        body = {
            "idempotency_key": idempotency_key,
            "adjust_points": {"points": points, "reason": reason},
            "allow_negative_balance": False,
        }
        path = f"/v2/loyalty/accounts/{account_id}/adjust"
        payload = await self._client.call(operation, "POST", path, body, idempotent=True)
        with self._shape_errors(operation):
            event = payload["event"]
            return LoyaltyPointsChange(
                account_id, int(event["adjust_points"]["points"]), event["id"]
            )

    async def _search_customers(self, customer_filter: dict[str, Any]) -> list[CustomerIdentity]:
        operation = "square.customers.search"
        body = {"query": {"filter": customer_filter}, "limit": CUSTOMERS_PAGE_LIMIT}
        found: list[CustomerIdentity] = []
        async for page in self._client.pages(operation, "/v2/customers/search", body):
            with self._shape_errors(operation):
                found.extend(mapping.customer(c) for c in page.get("customers") or [])
        return found

    async def _bulk_retrieve(self, ids: list[str]) -> list[CustomerIdentity]:
        operation = "square.customers.bulk_retrieve"
        payload = await self._client.call(
            operation,
            "POST",
            "/v2/customers/bulk-retrieve",
            {"customer_ids": ids},
            idempotent=True,
        )
        with self._shape_errors(operation):
            # Per-id failures (NOT_FOUND) sit in each response's own `errors`: those are absent.
            answers = (payload.get("responses") or {}).values()
            return [mapping.customer(a["customer"]) for a in answers if a.get("customer")]

    async def _search_orders(
        self, location_ids: list[str], customer_ids: list[str], query: OrderQuery
    ) -> list[dict[str, Any]]:
        order_filter: dict[str, Any] = {"customer_filter": {"customer_ids": customer_ids}}
        if query.created_before is not None:
            end_at = _rfc3339(query.created_before)
            order_filter["date_time_filter"] = {"created_at": {"end_at": end_at}}
        body = {
            "location_ids": location_ids,
            "query": {
                "filter": order_filter,
                # A created_at filter needs the same sort field; DESC gives newest first.
                "sort": {"sort_field": "CREATED_AT", "sort_order": "DESC"},
            },
            "limit": min(query.limit, ORDERS_PAGE_LIMIT),
            "return_entries": False,
        }
        found: list[dict[str, Any]] = []
        async for page in self._client.pages("square.orders.search", "/v2/orders/search", body):
            found.extend(o for o in page.get("orders") or [] if isinstance(o, dict) and "id" in o)
            if len(found) >= query.limit:
                break  # each search is newest first, so later pages cannot make the cut
        return found

    async def _search_loyalty(self, customer_ids: list[str]) -> list[LoyaltyAccountRecord]:
        operation = "square.loyalty.search_accounts"
        body = {"query": {"customer_ids": customer_ids}, "limit": LOYALTY_CUSTOMERS_PER_SEARCH}
        found: list[LoyaltyAccountRecord] = []
        async for page in self._client.pages(operation, "/v2/loyalty/accounts/search", body):
            with self._shape_errors(operation):
                found.extend(
                    mapping.loyalty_account(a)
                    for a in page.get("loyalty_accounts") or []
                    if a.get("customer_id")
                )
        return found

    async def _all_location_ids(self) -> list[str]:
        if self._location_ids is None or self._location_ids[1] <= self._clock():
            await self.locations()
        assert self._location_ids is not None
        return self._location_ids[0]

    @contextmanager
    def _shape_errors(self, operation: str) -> Iterator[None]:
        """A 2xx body that is not the shape Square documents is the upstream's failure."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UpstreamUnavailable(self.service, operation, f"unexpected body: {exc!r}") from exc


def _unique_filters(filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Filters without repeats: the same email given twice is one search."""
    return list({json.dumps(f, sort_keys=True): f for f in filters}.values())


def _rfc3339(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
