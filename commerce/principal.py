"""Who is asking: the principal every resolver checks before it reads or changes anything.

A request carries at most one identity (a customer's JWT, a kiosk device token, a staff
token, a developer's token) and, independently, at most one guest cart token. The token is
kept apart from the identity because a customer who logs in still holds the guest cart they
filled before: presenting both is how that cart is merged into theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    ANONYMOUS = "ANONYMOUS"
    CUSTOMER = "CUSTOMER"
    # may discover the schema (introspection, the federation SDL, suggestions) in
    # production; reaches no customer's data, exactly as ANONYMOUS
    DEVELOPER = "DEVELOPER"
    KIOSK = "KIOSK"
    STAFF = "STAFF"
    # an in-store screen: reads products, stock, prices and offers of its store, and follows
    # their live changes; nothing else (commerce/access.py DISPLAY_FIELDS)
    DISPLAY = "DISPLAY"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind = PrincipalKind.ANONYMOUS
    # the customer id (CRM contact id) for CUSTOMER; the device, staff or developer id otherwise
    subject: str | None = None
    # the store a KIOSK or DISPLAY device or a STAFF member is scoped to
    store_id: str | None = None
    # the customer who identified at a kiosk (a verified hand-off token)
    handoff_customer_id: str | None = None
    # a guest cart token presented with the request (any kind may carry one)
    cart_token: str | None = None
    # when the credentials presented stop being valid (seconds since the epoch): the earlier
    # of the token's `exp` and the hand-off's expiry; a websocket is closed then
    expires_at: float | None = None

    @property
    def customer_id(self) -> str | None:
        """The customer whose own cart, wishlist and profile this request may reach."""
        if self.kind is PrincipalKind.CUSTOMER:
            return self.subject
        if self.kind is PrincipalKind.KIOSK:
            return self.handoff_customer_id
        return None


ANONYMOUS = Principal()
