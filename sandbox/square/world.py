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
