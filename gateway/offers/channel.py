"""Which channel and store a cart is priced for.

The cart itself has no channel: it is shared by every device. A read names one (the
`channel` argument of `Cart.cost`, `Cart.promoCodes`, `Cart.discounts`, `cartQuote`),
and without it the principal decides: a kiosk token prices for KIOSK, a staff token for
STORE, anyone else for WEB. Checkout always prices for its own channel. The store is the
kiosk's or staff member's store in a store channel, else the cart's pickup store.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.auth import Principal, PrincipalKind


class SalesChannel(StrEnum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    STORE = "STORE"
    KIOSK = "KIOSK"

    @property
    def in_store(self) -> bool:
        return self in (SalesChannel.STORE, SalesChannel.KIOSK)


def default_channel(principal: Principal) -> SalesChannel:
    if principal.kind is PrincipalKind.KIOSK:
        return SalesChannel.KIOSK
    if principal.kind is PrincipalKind.STAFF:
        return SalesChannel.STORE
    return SalesChannel.WEB


def pricing_store(
    principal: Principal, channel: SalesChannel, pickup_store_id: str | None
) -> str | None:
    if channel.in_store and principal.store_id is not None:
        return principal.store_id
    return pickup_store_id
