"""Settings of the cart domain that the runtime's configuration names."""

from __future__ import annotations

from enum import StrEnum


class CartMergePolicy(StrEnum):
    """What happens to a guest cart when its holder signs in (docs/cart.md)."""

    MERGE_QUANTITIES = "MERGE_QUANTITIES"  # every line of both; same SKU adds up
    KEEP_NEWEST = "KEEP_NEWEST"  # the lines of whichever cart changed last
    KEEP_CUSTOMER = "KEEP_CUSTOMER"  # the customer's lines; the guest's are dropped
