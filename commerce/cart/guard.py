"""What an add checks when it writes without reading the cart first: every check the read
would have fed, repeated in the conditional update's filter, so that MongoDB decides them
atomically with the write (docs/cart.md "Round trips").

An add normally reads the cart (who may reach it, whether it is open, where it is
fulfilled, its currency, the quantity it already holds of each SKU) and then writes it
with a filter repeating what can change in between. For a delivery cart the same checks
fit in the filter alone: the principal's reach, delivery (a pickup cart's stock is held
in a transaction, commerce/holds), one currency, and for each SKU at most the quantity
that leaves room for the new units on the shelf. A write whose filter matches nothing
changed nothing; the caller then takes the reading path, which names the refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from commerce.cart.model import Document, FulfillmentType


@dataclass(frozen=True, slots=True)
class AddGuard:
    # the principal's reach (commerce/cart/service.py may_reach): their own customer
    # cart, or the guest cart whose token hash they hold
    customer_id: str | None
    guest_token_sha256: str | None
    # the currency of every line added: the cart's lines must all be in it
    currency: str
    # SKU -> the most units of it the cart may hold before the add (the shelf count
    # less the units being added); never negative (a negative one is refused unread)
    at_most: Mapping[str, int]

    def conditions(self) -> list[Document]:
        reach: list[Document] = []
        if self.customer_id is not None:
            reach.append({"customer_id": self.customer_id})
        if self.guest_token_sha256 is not None:
            reach.append({"customer_id": None, "guest_token_sha256": self.guest_token_sha256})
        if not reach:
            raise ValueError("an add without a reach would match any principal's cart")
        conditions: list[Document] = [
            {"$or": reach},
            {"fulfillment.type": {"$ne": FulfillmentType.PICKUP.value}},
            {
                "lines": {
                    "$not": {"$elemMatch": {"added_unit_price.currency": {"$ne": self.currency}}}
                }
            },
        ]
        for sku, most in self.at_most.items():
            held = {
                "$sum": {
                    "$map": {
                        "input": {
                            "$filter": {
                                "input": {"$ifNull": ["$lines", []]},
                                "cond": {"$eq": ["$$this.sku", sku]},
                            }
                        },
                        "in": "$$this.quantity",
                    }
                }
            }
            conditions.append({"$expr": {"$lte": [held, most]}})
        return conditions
