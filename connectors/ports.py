"""The ports: what the gateway asks of each domain's system of record.

One Protocol per domain. Each adapter in connectors/<vendor>/ implements one or more of
them; the gateway wiring picks the adapter per domain from settings, and refuses one that
lacks a port's members (the ports are runtime-checkable for that: isinstance sees that each
member is there, not its signature). Batch methods take many keys and make as few upstream
calls as the vendor's batch caps allow; results for keys the vendor does not know are
simply absent.

`place_order` is the one write, with one contract on both order-taking ports:

- the same `idempotency_key` with the same draft, however often and however concurrently
  it is sent, creates one upstream order and answers that order every time: a checkout
  whose answer was lost (timeout, crash) is retried with its key, never without it;
- the same key with a different draft raises `IdempotencyKeyReused` (code
  IDEMPOTENCY_KEY_REUSED) and changes nothing upstream;
- a refusal of the order itself raises an `UpstreamRejected` (`OrderRejected` where the
  vendor explains it), whose `public_message` never carries the vendor's words;
- an `UpstreamUnavailable` or `UpstreamTimeout` leaves it unknown whether the order was
  placed: retrying with the same key and draft is always safe and settles it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from connectors.records import (
    AfterSalesDraft,
    AfterSalesRecord,
    AfterSalesStatus,
    CustomerIdentity,
    LocationRecord,
    LoyaltyAccountRecord,
    LoyaltyMovement,
    LoyaltyPointsChange,
    Money,
    OrderDraft,
    OrderQuery,
    OrderRecord,
    PaymentRecord,
    PaymentRequest,
    ProductPage,
    ProductRecord,
    RefundRecord,
    RefundRequest,
    Restock,
    StockLevel,
    System,
)


class CustomerDirectory(Protocol):
    """Finding a person in one system by the contact details that link systems together."""

    service: str

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        """Customers whose email (case-insensitive) or phone matches any of those given."""
        ...


@runtime_checkable
class EcommercePort(CustomerDirectory, Protocol):
    """The online store: the catalog, the single price source, online customers and orders."""

    async def products_by_sku(self, skus: Sequence[str]) -> dict[str, ProductRecord]: ...

    async def search_products(
        self, query: str | None, first: int, after: str | None
    ) -> ProductPage: ...

    async def orders(self, query: OrderQuery) -> list[OrderRecord]: ...

    async def order(self, order_id: str) -> OrderRecord | None:
        """One order by its id in this system; None for an id it does not know."""
        ...

    async def order_by_number(self, number: str) -> OrderRecord | None:
        """The order the shop shows the customer as `number`; None if there is none."""
        ...

    async def record_refund(
        self, order_id: str, payment_id: str, amount: Money, key: str, note: str | None = None
    ) -> str | None:
        """Records on the order, once per key, that `amount` of the payment `payment_id`
        (taken and refunded by the payments system) went back; the shop's refund id, or
        None when the order holds no such payment."""
        ...

    async def place_order(self, draft: OrderDraft) -> OrderRecord:
        """Place an online order (web, mobile) exactly once per key; see the module docstring.

        The record is the one `orders` returns for it later, channel ONLINE.
        """
        ...


@runtime_checkable
class PosPort(CustomerDirectory, Protocol):
    """The point of sale: store locations, in-store customers and receipts. A POS with a
    loyalty API (Square Loyalty) implements LoyaltyPort too."""

    async def locations(self) -> list[LocationRecord]: ...

    async def orders(self, query: OrderQuery) -> list[OrderRecord]: ...

    async def order(self, order_id: str) -> OrderRecord | None:
        """One receipt or store order by its id; None for an id it does not know."""
        ...

    async def place_order(self, draft: OrderDraft) -> OrderRecord:
        """Place a store order (store, kiosk) exactly once per key; see the module docstring.

        The record is the one `orders` returns for it later, channel STORE.
        """
        ...


def pos_system(pos: object) -> System:
    """The system whose customer ids a POS adapter's `orders` take and whose refs its
    customers carry: its `system` attribute (Shopify POS shares the online store's customer
    list), or Square for an adapter that names none."""
    system = getattr(pos, "system", None)
    return system if isinstance(system, System) else System.SQUARE


@runtime_checkable
class LoyaltyPort(Protocol):
    """Points accounts of the POS's customers: the POS's own loyalty API (Square Loyalty),
    or omnigate's ledger in MongoDB where the POS has none (commerce/offers/points_ledger.py;
    `OMNIGATE_ADAPTERS__LOYALTY`, docs/adapters.md). An account belongs to one POS customer
    (`customer_ref`)."""

    # True when `accumulate_loyalty_points` takes a POS order id and computes the points
    # itself from the program's accrual rules (Square); False when the caller always
    # passes `points`.
    accrues_pos_orders: bool

    async def loyalty_accounts(self, customer_ids: Sequence[str]) -> list[LoyaltyAccountRecord]:
        """The accounts of these POS customers; a customer without one is left out."""
        ...

    async def accumulate_loyalty_points(
        self,
        account_id: str,
        *,
        idempotency_key: str,
        location_id: str,
        order_id: str | None = None,
        points: int | None = None,
    ) -> LoyaltyPointsChange:
        """Points earned by a purchase: a POS order by its id (the vendor computes them), or
        a purchase made elsewhere by its `points`. Exactly once per key."""
        ...

    async def adjust_loyalty_points(
        self, account_id: str, points: int, *, idempotency_key: str, reason: str
    ) -> LoyaltyPointsChange:
        """Points added (positive) or spent (negative), exactly once per key; spending past
        the balance raises UpstreamRejected."""
        ...


@runtime_checkable
class PosCustomerLookup(Protocol):
    """A POS that finds its own customers by its ids: by customer id, and by loyalty account
    (the card a shopper shows at the till). What staff search by (commerce/customers/
    search.py); a POS adapter without it answers those searches as unsupported."""

    async def customers_by_id(self, ids: Sequence[str]) -> dict[str, CustomerIdentity]:
        """Customers by the POS's ids; unknown ids are absent."""
        ...

    async def loyalty_account(self, account_id: str) -> LoyaltyAccountRecord | None:
        """The loyalty account with this id, or None when the POS knows none."""
        ...


@runtime_checkable
class PosLoyaltyHistory(Protocol):
    """A POS that lists a loyalty account's movements: the staff customer timeline."""

    async def loyalty_movements(
        self, account_id: str, limit: int, created_before: datetime | None = None
    ) -> list[LoyaltyMovement]:
        """Newest first, at most `limit`, created at or before `created_before` (inclusive,
        as OrderQuery's bound)."""
        ...


@runtime_checkable
class InventoryPort(Protocol):
    """Sellable stock per SKU and location."""

    service: str

    async def stock(
        self, skus: Sequence[str], location_ids: Sequence[str] | None = None
    ) -> list[StockLevel]:
        """Levels for every (sku, location) pair the system counts; None means every location."""
        ...


@runtime_checkable
class InventoryItemSkus(Protocol):
    """An inventory adapter whose vendor's webhooks name items by the vendor's own id (Square:
    the catalog variation id): what the webhook receiver asks to learn the SKUs."""

    async def skus_for_items(self, item_ids: Sequence[str]) -> dict[str, str]:
        """SKU per item id the vendor knows; an unknown id is left out."""
        ...


@runtime_checkable
class CrmPort(CustomerDirectory, Protocol):
    """The CRM, system of record for who a customer is."""

    async def customers_by_id(self, ids: Sequence[str]) -> dict[str, CustomerIdentity]: ...


@runtime_checkable
class PaymentsPort(Protocol):
    """Card payments taken online: authorised first, completed once the order is placed.

    Every call is safe to repeat: `authorize` carries the request's idempotency key (the
    same key and request answer the first payment; a declined card raises
    `PaymentDeclined` and moves no money), completing a completed payment or cancelling a
    cancelled one answers it as it is.
    """

    service: str

    async def authorize(self, request: PaymentRequest) -> PaymentRecord: ...

    async def complete(self, payment_id: str) -> PaymentRecord: ...

    async def cancel(self, payment_id: str) -> PaymentRecord: ...

    async def payment(self, payment_id: str) -> PaymentRecord | None: ...

    async def order_paid(self, order_id: str) -> bool:
        """Whether the POS order is paid in full (its tenders cover it): how a store order
        paid at the terminal is known to be paid."""
        ...

    async def refund(self, request: RefundRequest) -> RefundRecord:
        """Money back on a completed payment, exactly once per key; a refusal (more than
        is left, a payment not completed) raises UpstreamRejected."""
        ...


@runtime_checkable
class PosPaidOrders(Protocol):
    """A POS that says itself whether a store order was paid at its terminal (Shopify POS:
    the order's financial status). Without it, the payments system is asked
    (`PaymentsPort.order_paid`: Square's tenders)."""

    async def order_paid(self, order_id: str) -> bool:
        """Whether the store order is paid in full; False for an id the POS does not know."""
        ...


@runtime_checkable
class StockReturns(Protocol):
    """An inventory adapter that can put returned units back on sale (Square: an
    ADJUSTMENT from NONE to IN_STOCK)."""

    async def restock(self, restock: Restock) -> None:
        """Exactly once per key: the same key and units add nothing more."""
        ...


@runtime_checkable
class AfterSalesPort(Protocol):
    """After-sales requests (damaged, missing, a question) kept in the CRM, their system of
    record (Salesforce: Cases, HubSpot: tickets). A CRM adapter without them leaves the
    requests unsupported (docs/after-sales.md)."""

    service: str
    # the system of the customer refs it takes and answers (its contacts')
    system: System

    async def open_request(self, draft: AfterSalesDraft) -> tuple[AfterSalesRecord, bool]:
        """The request, and whether this call created it: exactly one per `draft.key`
        however often and concurrently it is sent (an upsert by the key), so a call whose
        answer was lost is retried with its key. An UpstreamRejected when the CRM refuses
        it; an UpstreamUnavailable or UpstreamTimeout leaves it unknown whether it was
        opened: retrying with the same key settles it."""
        ...

    async def requests_of(
        self, customer_ids: Sequence[str], limit: int, created_before: datetime | None = None
    ) -> list[AfterSalesRecord]:
        """Requests of these CRM customers, newest first, at most `limit`, created at or
        before `created_before` (inclusive, as OrderQuery's bound)."""
        ...

    async def request(self, request_id: str) -> AfterSalesRecord | None:
        """One request by the CRM's id; None for an id it does not know."""
        ...

    async def set_request_status(
        self, request_id: str, status: AfterSalesStatus
    ) -> AfterSalesRecord | None:
        """Move a request to `status` (safe to repeat); None for an id the CRM does not know."""
        ...
