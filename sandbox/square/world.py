"""The Square seller account the simulator serves: the dataset's Square slice, indexed once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sandbox.dataset import Dataset, LoyaltyAccount, PosCustomer, PosOrder, Product
from sandbox.square.shapes import calculated_at


@dataclass(slots=True)
class SquareWorld:
    dataset: Dataset
    products_by_variation: dict[str, Product] = field(init=False)
    products_by_item: dict[str, Product] = field(init=False)
    products_by_sku: dict[str, Product] = field(init=False)
    customers_by_id: dict[str, PosCustomer] = field(init=False)
    # Square's default SearchCustomers order: alphabetical by given_name, family_name.
    customers_by_name: list[PosCustomer] = field(init=False)
    orders_by_id: dict[str, PosOrder] = field(init=False)
    orders_by_customer: dict[str, list[PosOrder]] = field(init=False)
    loyalty_by_customer: dict[str, list[LoyaltyAccount]] = field(init=False)
    loyalty_by_phone: dict[str, list[LoyaltyAccount]] = field(init=False)
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
        self.orders_by_id = {o.id: o for o in self.dataset.pos_orders}
        self.orders_by_customer = defaultdict(list)
        for order in self.dataset.pos_orders:
            self.orders_by_customer[order.customer_id].append(order)
        self.loyalty_by_customer = defaultdict(list)
        self.loyalty_by_phone = defaultdict(list)
        for account in self.dataset.loyalty_accounts:
            self.loyalty_by_customer[account.customer_id].append(account)
            self.loyalty_by_phone[account.phone_number].append(account)
        self.counts_by_variation = defaultdict(list)
        for (variation_id, location_id), quantity in self.dataset.inventory.items():
            moment = calculated_at(variation_id, location_id)
            self.counts_by_variation[variation_id].append((location_id, quantity, moment))
