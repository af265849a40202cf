"""Who may read which customer's data: the decisions resolvers ask for before any read.

| principal                     | `me`             | `customer(id)` (and `_entities`)             |
|-------------------------------|------------------|----------------------------------------------|
| CUSTOMER                      | their profile    | their own id: it; any other id: NOT_FOUND    |
| KIOSK with a hand-off         | the customer's   | as that customer                             |
| KIOSK without a hand-off      | UNAUTHENTICATED  | FORBIDDEN                                    |
| STAFF                         | FORBIDDEN        | any customer, every read audited             |
| ANONYMOUS (a cart token too)  | UNAUTHENTICATED  | UNAUTHENTICATED                              |
| DEVELOPER                     | UNAUTHENTICATED  | UNAUTHENTICATED                              |
| DISPLAY                       | FORBIDDEN        | FORBIDDEN                                    |

Staff also find customers by email, phone, loyalty card or POS id (`customers(search:)`,
commerce/customers/search.py): staff only, FORBIDDEN to anyone else, every search audited.

A display (an in-store screen) reads only what a shelf shows: the root fields in
DISPLAY_FIELDS, and live stock of its own store (or online); every other root field is
FORBIDDEN before anything runs (engine/operation.py asks `display_refusals`).

A developer token proves someone who may discover the schema, not a customer: it reaches
customer data exactly as anonymous does. A refusal is raised before anything is fetched, so
another customer's id costs no upstream call and answers exactly as an id that does not
exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from enum import Enum
from typing import TypeVar

from commerce.audit import AuditLog, CustomerRead
from commerce.errors import Forbidden, NotFound, Unauthenticated
from commerce.principal import Principal, PrincipalKind

# no customer identity, so refused as no one signed in
NOT_A_CUSTOMER = frozenset({PrincipalKind.ANONYMOUS, PrincipalKind.DEVELOPER})
# the root fields a DISPLAY may ask for; introspection (`__typename`...) follows its own rules
DISPLAY_FIELDS = frozenset(
    {
        "Query.product",
        "Query.products",
        "Query.store",
        "Query.stores",
        "Query.offers",
        "Subscription.stockChanged",
        "Subscription.productChanged",
    }
)
DISPLAY_REFUSED = "An in-store display reads products, stock, prices and offers of its store only."


def display_refusals(principal: Principal, root_fields: Iterable[str]) -> list[str]:
    """The root fields (`Type.field`) a display may not ask for; [] for any other principal."""
    if principal.kind is not PrincipalKind.DISPLAY:
        return []
    return [
        name
        for name in root_fields
        if name not in DISPLAY_FIELDS and not name.partition(".")[2].startswith("__")
    ]


def live_stock_scope(principal: Principal, store_id: str | None) -> None:
    """A display follows the stock of its own store (or online), and no other store's."""
    if principal.kind is PrincipalKind.DISPLAY and store_id not in (None, principal.store_id):
        raise Forbidden("A display follows the stock of its own store only.")


T = TypeVar("T")


class CustomerAccess(Enum):
    OWN = "OWN"  # the customer's own data (directly, or through a kiosk hand-off)
    STAFF = "STAFF"  # staff on duty: allowed, and audited


def customer_read_access(principal: Principal, customer_id: str) -> CustomerAccess:
    if principal.kind is PrincipalKind.STAFF:
        return CustomerAccess.STAFF
    own = principal.customer_id
    if own is not None:
        if own == customer_id:
            return CustomerAccess.OWN
        raise NotFound("No customer has this id.")
    if principal.kind in NOT_A_CUSTOMER:
        raise Unauthenticated("Reading a customer needs a customer or staff token.")
    raise Forbidden("A kiosk reads a customer only with that customer's hand-off.")


def signed_in_customer(principal: Principal) -> str:
    """The customer `me` means."""
    if principal.customer_id is not None:
        return principal.customer_id
    if principal.kind is PrincipalKind.STAFF:
        raise Forbidden("`me` is a customer's own profile: staff read customers by id.")
    raise Unauthenticated("`me` needs a customer token, or a kiosk with a customer's hand-off.")


def handoff_requester(principal: Principal) -> str:
    """The customer who may hand themselves off to a kiosk: only one signed in directly."""
    if principal.kind is PrincipalKind.CUSTOMER and principal.subject is not None:
        return principal.subject
    if principal.kind in NOT_A_CUSTOMER:
        raise Unauthenticated("A kiosk hand-off needs a customer token.")
    raise Forbidden("Only a signed-in customer can hand off to a kiosk.")


class CustomerReadGate:
    """Every read of a customer's data passes here: refused (NOT_FOUND, UNAUTHENTICATED,
    FORBIDDEN) as `customer_read_access` decides before anything is fetched, and a staff
    read is written to the audit log, so no staff read goes unrecorded."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    async def read(
        self,
        principal: Principal,
        customer_id: str,
        describe: Callable[[], CustomerRead],
        fetch: Callable[[], Awaitable[T]],
    ) -> T:
        """`fetch()`'s answer once the read may be made. `describe`: what is read
        (operation, path, fields), built only for staff.

        A staff read's audit entry is written while the data is fetched, not before: the
        entry is a journaled majority write, the longest step of a cached profile read, and
        waiting for it first would add its whole time to every staff read. Nothing is
        answered until the entry is acknowledged; when it cannot be written the fetch is
        cancelled and the read fails with `AuditUnavailable`. A fetch that fails is on
        record all the same."""
        if customer_read_access(principal, customer_id) is not CustomerAccess.STAFF:
            return await fetch()
        fetching = asyncio.ensure_future(fetch())
        try:
            await self._audit.customer_read(principal, describe())
        except BaseException:
            fetching.cancel()
            if fetching.done() and not fetching.cancelled():
                fetching.exception()  # retrieved: the audit's failure is the one to raise
            raise
        return await fetching


__all__ = [
    "DISPLAY_FIELDS",
    "CustomerAccess",
    "CustomerRead",
    "CustomerReadGate",
    "customer_read_access",
    "display_refusals",
    "handoff_requester",
    "live_stock_scope",
    "signed_in_customer",
]
