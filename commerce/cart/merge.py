"""Login merge: a guest's cart folded into the customer's cart when they sign in.

The policy is a setting (`cart.merge_policy`) a request may override; promo codes carry
over whatever the policy. Both carts change in one MongoDB transaction, each guarded by
the version it was read at, so a concurrent change to either makes the merge run again
on the new state instead of losing it.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from commerce.cart.errors import CartErrorCode, CartOutcome, CartUserError
from commerce.cart.policy import CartMergePolicy
from commerce.cart.store import CartStatus, CartStore, StoredCart, StoredLine
from commerce.holds.service import StockHolds
from commerce.holds.store import HoldKey
from commerce.principal import Principal
from commerce.transactions import in_transaction

ATTEMPTS = 5


def merged_lines(
    customer: StoredCart, guest: StoredCart, policy: CartMergePolicy, max_quantity: int
) -> list[StoredLine]:
    if policy is CartMergePolicy.KEEP_CUSTOMER:
        return list(customer.lines)
    if policy is CartMergePolicy.KEEP_NEWEST:
        return list(guest.lines if guest.updated_at > customer.updated_at else customer.lines)
    by_sku: dict[str, StoredLine] = {line.sku: line for line in customer.lines}
    for line in guest.lines:
        mine = by_sku.get(line.sku)
        if mine is None:
            by_sku[line.sku] = line
        else:
            quantity = min(mine.quantity + line.quantity, max_quantity)
            by_sku[line.sku] = StoredLine(
                mine.id,
                mine.sku,
                quantity,
                mine.added_unit_price,
                mine.added_at,
                mine.needs_repricing or line.needs_repricing,
            )
    return list(by_sku.values())


def _line_document(line: StoredLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "sku": line.sku,
        "quantity": line.quantity,
        "added_unit_price": {
            "amount": format(line.added_unit_price.amount, "f"),
            "currency": line.added_unit_price.currency,
        },
        "added_at": line.added_at,
        "needs_repricing": line.needs_repricing,
    }


class CartMerge:
    def __init__(
        self,
        store: CartStore,
        mongo: AsyncMongoClient[dict[str, Any]],
        *,
        default_policy: CartMergePolicy,
        max_lines: int,
        max_quantity: int,
        holds: StockHolds | None = None,
    ) -> None:
        """`holds`: the merged guest cart's pickup holds are released with the merge."""
        self._store = store
        self._mongo = mongo
        self._holds = holds
        self._default_policy = default_policy
        self._max_lines = max_lines
        self._max_quantity = max_quantity

    async def merge_guest(
        self, principal: Principal, guest_token: str | None, policy: CartMergePolicy | None
    ) -> CartOutcome:
        customer_id = principal.customer_id
        if customer_id is None:
            return CartOutcome.refused(
                None, CartErrorCode.UNAUTHENTICATED, "Sign in to merge a guest cart."
            )
        token = guest_token or principal.cart_token
        if token is None:
            return CartOutcome.refused(
                None, CartErrorCode.NOT_FOUND, "Give the guest cart's token.", "guestCartToken"
            )
        chosen = policy or self._default_policy
        for _ in range(ATTEMPTS):
            outcome = await self._attempt(customer_id, token, chosen)
            if outcome is not None:
                return outcome
        return CartOutcome.refused(
            await self._store.active_for_customer(customer_id),
            CartErrorCode.CONFLICT,
            "The carts kept changing during the merge: try again.",
        )

    async def _attempt(
        self, customer_id: str, token: str, policy: CartMergePolicy
    ) -> CartOutcome | None:
        """The outcome, or None when a concurrent change means reading both carts again."""
        guest = await self._store.open_for_guest_token(token)
        if guest is None:
            return CartOutcome.refused(
                await self._store.active_for_customer(customer_id),
                CartErrorCode.NOT_FOUND,
                "No open guest cart has this token.",
                "guestCartToken",
            )
        mine = await self._store.active_for_customer(customer_id)
        if mine is None:
            return await self._adopt(guest, customer_id)
        if mine.status is not CartStatus.OPEN:
            return CartOutcome.refused(
                mine,
                CartErrorCode.CHECKOUT_IN_PROGRESS,
                "The customer's cart is being checked out.",
            )
        lines = merged_lines(mine, guest, policy, self._max_quantity)
        errors = []
        if len(lines) > self._max_lines:
            lines = lines[: self._max_lines]
            errors.append(
                CartUserError(
                    CartErrorCode.LIMIT_EXCEEDED,
                    f"Only the first {self._max_lines} lines were kept.",
                    ("guestCartToken",),
                )
            )
        codes = list(dict.fromkeys([*mine.promo_codes, *guest.promo_codes]))

        released: set[HoldKey] = set()

        async def write(session: AsyncClientSession) -> bool:
            documents = [_line_document(line) for line in lines]
            if not await self._store.replace_lines_and_codes(
                mine.id, mine.version, documents, codes, session
            ) or not await self._store.mark_merged(guest.id, guest.version, mine.id, session):
                await session.abort_transaction()
                return False
            if self._holds is not None:
                # the guest cart is closed: what it held for pickup is free again
                released.clear()
                released.update(await self._holds.store.release(session, guest.id))
            return True

        if not await in_transaction(self._mongo, write):
            return None
        if self._holds is not None:
            await self._holds.announce(released)
        return CartOutcome(await self._store.get(mine.id), errors)

    async def _adopt(self, guest: StoredCart, customer_id: str) -> CartOutcome | None:
        """No cart of their own: the guest cart becomes theirs, lines and codes as they are."""

        async def write(session: AsyncClientSession) -> bool:
            return await self._store.adopt_guest_cart(guest.id, guest.version, customer_id, session)

        try:
            adopted = await in_transaction(self._mongo, write)
        except DuplicateKeyError:
            return None  # the customer got a cart meanwhile (another device): merge into it
        if not adopted:
            return None
        return CartOutcome(await self._store.get(guest.id), [])
