"""Which channel and store a cart is priced for, and which channels a principal may use.

The cart itself has no channel: it is shared by every device. A read names one (the
`channel` argument of `Cart.cost`, `Cart.promoCodes`, `Cart.discounts`, `Cart.quote`,
`offers`), and without it the principal decides: a kiosk token prices for KIOSK, a staff
token for STORE, anyone else for WEB. Checkout always prices for its own channel. The store
is the kiosk's or staff member's store in a store channel, else the cart's pickup store.

The channel is not the client's word: `allowed_channels` is the one rule (docs/security.md
"Sales channels"), and every field taking a channel refuses another one with
CHANNEL_NOT_ALLOWED before anything is read or priced.
"""

from __future__ import annotations

from enum import StrEnum

from commerce.errors import FieldRefusal
from commerce.principal import Principal, PrincipalKind

CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"


class SalesChannel(StrEnum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    STORE = "STORE"
    KIOSK = "KIOSK"

    @property
    def in_store(self) -> bool:
        return self in (SalesChannel.STORE, SalesChannel.KIOSK)


ONLINE = frozenset({SalesChannel.WEB, SalesChannel.MOBILE})


def allowed_channels(principal: Principal) -> frozenset[SalesChannel]:
    """The channels this principal may price, quote, see offers or check out on.

    A kiosk device (also while a customer's hand-off lends it their identity) acts on KIOSK
    and a staff member or an in-store display on STORE, in their own store; anyone else (a
    customer's own token, a guest cart token, nobody) is online, on WEB or MOBILE as the
    client says: what an anonymous caller may, so a kind not named here gets no more than
    that.
    """
    if principal.kind is PrincipalKind.KIOSK:
        return frozenset({SalesChannel.KIOSK})
    if principal.kind in (PrincipalKind.STAFF, PrincipalKind.DISPLAY):
        return frozenset({SalesChannel.STORE})
    return ONLINE


def channel_refusal(principal: Principal, channel: SalesChannel) -> str | None:
    """Why `principal` may not act on `channel`, or None if it may."""
    allowed = allowed_channels(principal)
    if channel in allowed:
        return None
    names = " or ".join(sorted(c.value for c in allowed))
    return f"This principal may not act on the {channel.value} channel, only on {names}."


class ChannelNotAllowed(FieldRefusal):
    """A query's `channel` is not one the principal may act on."""

    code = CHANNEL_NOT_ALLOWED


def permitted_channel(principal: Principal, channel: SalesChannel | None) -> SalesChannel:
    """The channel a query prices for: the one asked for (None: the principal's default),
    if the principal may act on it; raises ChannelNotAllowed otherwise."""
    chosen = default_channel(principal) if channel is None else channel
    refusal = channel_refusal(principal, chosen)
    if refusal is not None:
        raise ChannelNotAllowed(refusal, channel=chosen.value)
    return chosen


def default_channel(principal: Principal) -> SalesChannel:
    if principal.kind is PrincipalKind.KIOSK:
        return SalesChannel.KIOSK
    if principal.kind in (PrincipalKind.STAFF, PrincipalKind.DISPLAY):
        return SalesChannel.STORE
    return SalesChannel.WEB


def pricing_store(
    principal: Principal, channel: SalesChannel, pickup_store_id: str | None
) -> str | None:
    if channel.in_store and principal.store_id is not None:
        return principal.store_id
    return pickup_store_id
