"""The Square seller account the simulator serves: the dataset's Square slice, indexed once,
plus the orders created through the API since the app started.

The dataset is shared (and cached) across simulators and tests, so created orders live
here, in the app's own world, never in the dataset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sandbox.dataset import Dataset, LoyaltyAccount, PosCustomer, PosOrder, Product
from sandbox.square.shapes import calculated_at

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """An order created through CreateOrder, kept as the Order JSON Square answered with."""

    id: str
    location_id: str
    customer_id: str | None
    created_at: datetime
    state: str
    payload: dict[str, Any]


StoredOrder = PosOrder | PlacedOrder


@dataclass(frozen=True, slots=True)
class KeyedPayment:
    """What one CreatePayment idempotency key was first used for, and the payment it made."""

    fingerprint: str
    payment_id: str


@dataclass(frozen=True, slots=True)
class IdempotentCall:
    """What one idempotency key was first used for: the request's fingerprint and its order."""

    fingerprint: str
    order_id: str


@dataclass(slots=True)
class SquareWorld:
    dataset: Dataset
    products_by_variation: dict[str, Product] = field(init=False)
    products_by_item: dict[str, Product] = field(init=False)
    products_by_sku: dict[str, Product] = field(init=False)
    customers_by_id: dict[str, PosCustomer] = field(init=False)
    # Square's default SearchCustomers order: alphabetical by given_name, family_name.
    customers_by_name: list[PosCustomer] = field(init=False)
    wall_clock: WallClock = utc_now
    orders: list[StoredOrder] = field(init=False)
    orders_by_id: dict[str, StoredOrder] = field(init=False)
    orders_by_customer: dict[str, list[StoredOrder]] = field(init=False)
    # CreateOrder idempotency keys -> their first use
    create_order_keys: dict[str, IdempotentCall] = field(init=False)
    loyalty_by_customer: dict[str, list[LoyaltyAccount]] = field(init=False)
    loyalty_by_phone: dict[str, list[LoyaltyAccount]] = field(init=False)
    loyalty_by_id: dict[str, LoyaltyAccount] = field(init=False)
    # points changed through the API since start: account id -> (balance, lifetime points)
    loyalty_points: dict[str, tuple[int, int]] = field(init=False)
    # AccumulateLoyaltyPoints / AdjustLoyaltyPoints idempotency keys -> their answer
    loyalty_calls: dict[str, dict[str, Any]] = field(init=False)
    accumulated_orders: set[str] = field(init=False)
    # variation id -> [(location id, quantity, calculated_at)] for every tracked pair
    counts_by_variation: dict[str, list[tuple[str, int, datetime]]] = field(init=False)
    # Payments API: payment id -> Payment JSON; CreatePayment keys -> their first use;
    # payment ids of declined calls -> the decline's code (replayed for the same key)
    payments: dict[str, dict[str, Any]] = field(init=False)
    payment_keys: dict[str, KeyedPayment] = field(init=False)
    declined_keys: dict[str, str] = field(init=False)
    # Refunds API: refund id -> PaymentRefund JSON; RefundPayment keys -> their first use
    refunds: dict[str, dict[str, Any]] = field(init=False)
    refund_keys: dict[str, KeyedPayment] = field(init=False)
    # BatchChangeInventory keys -> their first use, and the answer it gave
    inventory_change_keys: dict[str, IdempotentCall] = field(init=False)
    inventory_change_answers: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        products = self.dataset.products
        self.products_by_variation = {p.square_variation_id: p for p in products}
        self.products_by_item = {p.square_item_id: p for p in products}
        # Square matches sku values case-insensitively.
        self.products_by_sku = {p.sku.lower(): p for p in products}
        customers = self.dataset.pos_customers
        self.customers_by_id = {c.id: c for c in customers}
        self.customers_by_name = sorted(
            customers, key=lambda c: (c.given_name, c.family_name, c.id)
        )
        self.orders = list(self.dataset.pos_orders)
        self.orders_by_id = {o.id: o for o in self.orders}
        self.orders_by_customer = defaultdict(list)
        for order in self.orders:
            if order.customer_id is not None:
                self.orders_by_customer[order.customer_id].append(order)
        self.create_order_keys = {}
        self.loyalty_by_customer = defaultdict(list)
        self.loyalty_by_phone = defaultdict(list)
        self.loyalty_by_id = {a.id: a for a in self.dataset.loyalty_accounts}
        self.loyalty_points = {}
        self.loyalty_calls = {}
        self.accumulated_orders = set()
        for account in self.dataset.loyalty_accounts:
            self.loyalty_by_customer[account.customer_id].append(account)
            self.loyalty_by_phone[account.phone_number].append(account)
        self.payments = {}
        self.payment_keys = {}
        self.declined_keys = {}
        self.refunds = {}
        self.refund_keys = {}
        self.inventory_change_keys = {}
        self.inventory_change_answers = {}
        self.counts_by_variation = defaultdict(list)
        for (variation_id, location_id), quantity in self.dataset.inventory.items():
            moment = calculated_at(variation_id, location_id)
            self.counts_by_variation[variation_id].append((location_id, quantity, moment))

    def add_order(self, order: PlacedOrder) -> None:
        """A created order, from now on found by SearchOrders and BatchRetrieveOrders."""
        self.orders.append(order)
        self.orders_by_id[order.id] = order
        if order.customer_id is not None:
            self.orders_by_customer[order.customer_id].append(order)

    def amount_due(self, order_id: str) -> int:
        """What is left to pay on an order, in cents (a seeded receipt is paid in full)."""
        order = self.orders_by_id[order_id]
        if not isinstance(order, PlacedOrder):
            return 0
        return int(order.payload["net_amount_due_money"]["amount"])

    def is_paid(self, order_id: str) -> bool:
        order = self.orders_by_id.get(order_id)
        return (
            order is not None
            and (not isinstance(order, PlacedOrder) or bool(order.payload.get("tenders")))
            and self.amount_due(order_id) == 0
        )

    def pay_order(self, payment: dict[str, Any]) -> None:
        """A completed payment becomes a tender of its Orders API order; an order paid in
        full with nothing to fulfil is COMPLETED, one with a fulfilment stays OPEN until
        it is fulfilled (Square's order states)."""
        order = self.orders_by_id.get(payment["order_id"])
        if not isinstance(order, PlacedOrder):
            return  # the order Square makes for a payment taken without one
        payload = order.payload
        tender = {
            "id": payment["id"],
            "location_id": payment["location_id"],
            "transaction_id": order.id,
            "created_at": payment["created_at"],
            "amount_money": payment["amount_money"],
            "type": "CARD",
            "card_details": {
                "status": "CAPTURED",
                "card": payment["card_details"]["card"],
                "entry_method": payment["card_details"]["entry_method"],
            },
            "payment_id": payment["id"],
        }
        payload["tenders"] = [*payload.get("tenders", []), tender]
        due = int(payload["net_amount_due_money"]["amount"]) - int(
            payment["amount_money"]["amount"]
        )
        payload["net_amount_due_money"] = {**payload["net_amount_due_money"], "amount": due}
        payload["updated_at"] = payment["updated_at"]
        payload["version"] = int(payload["version"]) + 1
        state = order.state
        if due == 0 and not payload.get("fulfillments"):
            state = payload["state"] = "COMPLETED"
            payload["closed_at"] = payment["updated_at"]
        self._replace_order(replace(order, state=state))

    def _replace_order(self, order: PlacedOrder) -> None:
        self.orders = [order if o.id == order.id else o for o in self.orders]
        self.orders_by_id[order.id] = order
        if order.customer_id is not None:
            mine = self.orders_by_customer[order.customer_id]
            self.orders_by_customer[order.customer_id] = [
                order if o.id == order.id else o for o in mine
            ]

    def loyalty_balance(self, account_id: str) -> tuple[int, int]:
        """(balance, lifetime points) now, API changes included."""
        account = self.loyalty_by_id[account_id]
        return self.loyalty_points.get(account_id, (account.balance, account.lifetime_points))

    def change_points(self, account_id: str, points: int, *, lifetime: bool) -> None:
        balance, lifetime_points = self.loyalty_balance(account_id)
        self.loyalty_points[account_id] = (
            balance + points,
            lifetime_points + points if lifetime else lifetime_points,
        )

    def current_account(self, account: LoyaltyAccount) -> LoyaltyAccount:
        balance, lifetime_points = self.loyalty_balance(account.id)
        return replace(account, balance=balance, lifetime_points=lifetime_points)
