"""The omnichannel cart: who may reach which cart, and every change to one.

Resolvers stay thin: they hand the principal, the arguments and the request's catalog reads
(its loaders, commerce.ports.CatalogReads) to `CartService`, which checks access,
validates against the upstreams (the SKU exists, its price, stock where the cart will be
fulfilled) and applies the change atomically in MongoDB (commerce/cart/store.py).

A pickup cart holds its quantities at its store (commerce/holds): its line and fulfilment
changes are written in one transaction with the holds they imply, and stock it is checked
against is the shelf count less what other carts hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from pymongo.asynchronous.client_session import AsyncClientSession

from commerce.audit import AuditLog, CustomerRead
from commerce.cart.degraded import products_or_recent, stock_or_recent
from commerce.cart.errors import CartErrorCode, CartOutcome, CartUserError
from commerce.cart.guard import AddGuard
from commerce.cart.pricing import CartPrice, price_cart
from commerce.cart.reached import ReachedCarts
from commerce.cart.repricing import price_rises
from commerce.cart.store import (
    CartMiss,
    CartStatus,
    CartStore,
    FulfillmentType,
    NewLine,
    StoredCart,
    hash_token,
)
from commerce.holds.model import NO_HOLDS, HoldRefused
from commerce.holds.service import HoldPlan, StockHolds
from commerce.offers import REFUSAL_MESSAGES, OffersEngine, normalise_code
from commerce.offers.channel import (
    SalesChannel,
    channel_refusal,
    default_channel,
    pricing_store,
)
from commerce.ports import CatalogReads
from commerce.principal import Principal, PrincipalKind
from commerce.recent_catalog import RecentCatalog
from commerce.stores import StoreDirectory
from connectors.records import Money, ProductRecord, StockLevel

# a cart write: the change in the given transaction (None: outside one), None if it missed
CartWrite = Callable[[AsyncClientSession | None], Awaitable[StoredCart | None]]

MISS_ERRORS = {
    CartMiss.NOT_FOUND: (CartErrorCode.NOT_FOUND, "No cart with this id."),
    CartMiss.VERSION_CONFLICT: (
        CartErrorCode.CONFLICT,
        "The cart changed since expectedVersion: the current cart is returned.",
    ),
    CartMiss.LINE_NOT_FOUND: (CartErrorCode.LINE_NOT_FOUND, "The cart has no line with this id."),
    CartMiss.PROMO_CODE_NOT_IN_CART: (
        CartErrorCode.PROMO_CODE_NOT_IN_CART,
        "This code is not applied to the cart.",
    ),
    CartMiss.LIMIT: (
        CartErrorCode.LIMIT_EXCEEDED,
        "The cart would pass its line or quantity limit.",
    ),
}


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int


def may_reach(principal: Principal, cart: StoredCart) -> bool:
    """A customer's cart: that customer (also at a kiosk after hand-off) or staff building
    it for them. A guest cart: whoever holds its token."""
    if cart.customer_id is not None:
        return principal.customer_id == cart.customer_id or principal.kind is PrincipalKind.STAFF
    return (
        cart.guest_token_sha256 is not None
        and principal.cart_token is not None
        and hash_token(principal.cart_token) == cart.guest_token_sha256
    )


class CartService:
    def __init__(
        self,
        store: CartStore,
        offers: OffersEngine,
        stores: StoreDirectory,
        audit: AuditLog,
        recent: RecentCatalog,
        holds: StockHolds,
        *,
        online_location_id: str,
        max_quantity: int,
        default_currency: str,
        reprice_tolerance_percent: Decimal,
    ) -> None:
        """`recent`: what a write falls back on while the price or stock source fails;
        `reprice_tolerance_percent`: how far above a line's recent price today's may be
        before checkout refuses it (PRICE_CHANGED)."""
        self.store = store
        self.holds = holds
        self._audit = audit
        self._offers = offers
        self._recent = recent
        self._default_currency = default_currency
        self._stores = stores
        self._online_location_id = online_location_id
        self._max_quantity = max_quantity
        self._reprice_tolerance = reprice_tolerance_percent
        self._reached = ReachedCarts()

    # -- reads -----------------------------------------------------------------------------

    async def find(self, principal: Principal, cart_id: str) -> StoredCart | None:
        """The cart if this principal may reach it; None otherwise (NOT_FOUND either way,
        so a cart id reveals nothing about whose it is)."""
        cart = await self.store.get(cart_id)
        if cart is None or not may_reach(principal, cart):
            return None
        if principal.kind is PrincipalKind.STAFF and cart.customer_id is not None:
            await self._audit_staff(principal, cart.customer_id)
        return cart

    async def _open_cart(self, principal: Principal, cart_id: str) -> StoredCart | CartOutcome:
        """The cart a change applies to, or the refusal: NOT_FOUND for one this principal
        may not reach, CHECKOUT_IN_PROGRESS or CART_NOT_OPEN for one that is not open."""
        cart = await self.find(principal, cart_id)
        if cart is None:
            return _not_found()
        return _check_open(cart) or cart

    async def stored(self, cart_id: str) -> StoredCart | None:
        """The cart as stored now, for a caller that `find` let through already: a
        subscription reads it again once subscribed, so no change falls in between."""
        return await self.store.get(cart_id)

    async def price(
        self,
        principal: Principal,
        cart: StoredCart,
        reads: CatalogReads,
        channel: SalesChannel,
        extra_codes: Sequence[str] = (),
    ) -> CartPrice:
        """The cart at today's prices and offers on `channel`, at the store that channel
        prices for (the principal's store, or the cart's pickup store); `extra_codes` as if
        they were applied too."""
        return await price_cart(
            cart,
            reads,
            self._offers,
            self._default_currency,
            channel=channel.value,
            store_id=pricing_store(principal, channel, cart.pickup_store_id),
            extra_codes=extra_codes,
        )

    @property
    def default_currency(self) -> str:
        """What an empty cart, and an offer with no cart, is priced in."""
        return self._default_currency

    async def _audit_staff(self, principal: Principal, customer_id: str) -> None:
        """A customer's cart is their data: staff reaching it is on record first."""
        read = CustomerRead(customer_id, None, "cart", "cart", ("cart",))
        await self._audit.customer_read(principal, read)

    async def current(self, principal: Principal) -> StoredCart | None:
        """The signed-in customer's active cart, else the guest token's open cart."""
        if principal.customer_id is not None:
            return await self.store.active_for_customer(principal.customer_id)
        if principal.cart_token is not None:
            return await self.store.open_for_guest_token(principal.cart_token)
        return None

    # -- mutations -------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        lines: Sequence[LineRequest],
        reads: CatalogReads,
        for_customer: str | None = None,
    ) -> CartOutcome:
        """The customer's one open cart (made if needed; staff name the customer), or a new
        guest cart with its token; then `lines` are added to it."""
        token: str | None = None
        if for_customer is not None:
            if principal.kind is not PrincipalKind.STAFF:
                return CartOutcome.refused(
                    None,
                    CartErrorCode.FORBIDDEN,
                    "Only staff build a cart for a customer; customers use their own.",
                    "customerId",
                )
            await self._audit_staff(principal, for_customer)
            cart = await self.store.create_for_customer(for_customer)
        elif principal.customer_id is not None:
            cart = await self.store.create_for_customer(principal.customer_id)
        else:
            existing = await self.current(principal)
            if existing is not None:
                cart = existing
            else:
                cart, token = await self.store.create_for_guest()
        if for_customer is None:
            self._remember_reach(principal, cart)
        outcome = await self._add(cart, lines, None, reads) if lines else CartOutcome(cart, [])
        outcome.cart_token = token
        return outcome

    async def add_lines(
        self,
        principal: Principal,
        cart_id: str,
        lines: Sequence[LineRequest],
        expected_version: int | None,
        reads: CatalogReads,
        *,
        answer_lines: bool = True,
    ) -> CartOutcome:
        """A cart this principal reached lately on this pod is written at once, its checks
        in the write's filter (`_add_unread`); if that matches nothing, or the cart is new
        to this pod, the cart is read first and the refusal, if any, named. Without
        `answer_lines` a cart written at once comes back without its lines (the answer
        shows none of what they make)."""
        if self._reached.knows(principal, cart_id):
            written = await self._add_unread(
                principal, cart_id, lines, expected_version, reads, answer_lines
            )
            if written is not None:
                return CartOutcome(written, [])
            self._reached.forget(principal, cart_id)
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        self._remember_reach(principal, cart)
        return await self._add(cart, lines, expected_version, reads)

    def _remember_reach(self, principal: Principal, cart: StoredCart) -> None:
        """Its next add may write first: an open delivery cart of the principal's own
        (staff read a customer's cart on the record, so theirs always read first; a guest
        cart just made is reached with the token the answer hands out, not yet held)."""
        if (
            principal.kind is not PrincipalKind.STAFF
            and (principal.customer_id is not None or principal.cart_token is not None)
            and may_reach(principal, cart)
            and cart.status is CartStatus.OPEN
            and cart.fulfillment is FulfillmentType.DELIVERY
        ):
            self._reached.remember(principal, cart.id)

    async def _add_unread(
        self,
        principal: Principal,
        cart_id: str,
        lines: Sequence[LineRequest],
        expected_version: int | None,
        reads: CatalogReads,
        answer_lines: bool,
    ) -> StoredCart | None:
        """The add written without reading the cart: the same price and stock reads as
        `prepare_lines`, and every check that needs the cart made by MongoDB in the write's
        filter (commerce/cart/guard.py). None when anything would be refused or the filter
        matched nothing: the caller reads the cart and says why."""
        if not lines or any(not 1 <= line.quantity <= self._max_quantity for line in lines):
            return None
        found = await products_or_recent(reads, self._recent, [line.sku for line in lines])
        new_lines = [
            NewLine(line.sku, line.quantity, product.price, found.recent)
            for line, product in zip(lines, found.records, strict=True)
            if product is not None
        ]
        currencies = {line.unit_price.currency for line in new_lines}
        if len(new_lines) < len(lines) or len(currencies) != 1:
            return None
        adding: dict[str, int] = {}
        for line in new_lines:
            adding[line.sku] = adding.get(line.sku, 0) + line.quantity
        levels = await self._levels(reads, [line.sku for line in new_lines], live=False)
        shelf = {
            line.sku: _shelf_count(sku_levels, self._online_location_id)
            for line, sku_levels in zip(new_lines, levels, strict=True)
        }
        at_most = {sku: shelf[sku] - quantity for sku, quantity in adding.items()}
        if any(most < 0 for most in at_most.values()):
            return None
        guard = AddGuard(
            principal.customer_id,
            hash_token(principal.cart_token) if principal.cart_token is not None else None,
            currencies.pop(),
            at_most,
        )
        return await self.store.add_lines(
            cart_id, new_lines, expected_version, guard=guard, answer_lines=answer_lines
        )

    async def _add(
        self,
        cart: StoredCart,
        lines: Sequence[LineRequest],
        expected_version: int | None,
        reads: CatalogReads,
    ) -> CartOutcome:
        new_lines, errors = await self.prepare_lines(cart, lines, reads)
        if errors:
            return CartOutcome(cart, errors)
        updated = await self._write(
            cart,
            lambda session: self.store.add_lines(cart.id, new_lines, expected_version, session),
            reads,
            hold_at=cart.pickup_store_id if cart.fulfillment is FulfillmentType.PICKUP else None,
            checked={line.sku for line in new_lines},
        )
        if isinstance(updated, HoldRefused):
            return await self.hold_refused(cart, updated)
        return await self._result(updated, cart.id, expected_version)

    async def prepare_lines(
        self, cart: StoredCart, lines: Sequence[LineRequest], reads: CatalogReads
    ) -> tuple[list[NewLine], list[CartUserError]]:
        """The lines priced now, or why they cannot go in this cart: a bad quantity, an
        unknown SKU, another currency, not enough stock where the cart is fulfilled.

        While the price or stock source is throttled or down, the recent catalog answers
        for the SKUs it holds and the lines it priced are flagged for re-pricing; a SKU it
        does not hold fails the add with the upstream's error (commerce/cart/degraded.py)."""
        if not lines:
            return [], [
                CartUserError(CartErrorCode.INVALID_QUANTITY, "Give at least one line.", ("lines",))
            ]
        if (refused := _check_open(cart)) is not None:
            return [], refused.errors
        errors = [
            CartUserError(
                CartErrorCode.INVALID_QUANTITY,
                f"Quantity must be between 1 and {self._max_quantity}.",
                ("lines", str(i), "quantity"),
            )
            for i, line in enumerate(lines)
            if not 1 <= line.quantity <= self._max_quantity
        ]
        if errors:
            return [], errors
        found = await products_or_recent(reads, self._recent, [line.sku for line in lines])
        products = found.records
        currencies = {existing.added_unit_price.currency for existing in cart.lines}
        new_lines: list[NewLine] = []
        for i, (line, product) in enumerate(zip(lines, products, strict=True)):
            if product is None:
                errors.append(
                    CartUserError(
                        CartErrorCode.PRODUCT_NOT_FOUND,
                        f"No product has SKU {line.sku!r}.",
                        ("lines", str(i), "sku"),
                    )
                )
            elif currencies and product.price.currency not in currencies:
                errors.append(
                    CartUserError(
                        CartErrorCode.CURRENCY_MISMATCH,
                        "The product is priced in another currency than the cart.",
                        ("lines", str(i), "sku"),
                    )
                )
            else:
                new_lines.append(NewLine(line.sku, line.quantity, product.price, found.recent))
        if errors:
            return [], errors
        already = {line.sku: cart.quantity_of(line.sku) for line in new_lines}
        errors = await self._stock_errors(cart, already, new_lines, reads)
        return ([], errors) if errors else (new_lines, [])

    async def _stock_errors(
        self,
        cart: StoredCart,
        already: dict[str, int],
        lines: Sequence[NewLine],
        reads: CatalogReads,
        location_id: str | None = None,
        *,
        live: bool = False,
    ) -> list[CartUserError]:
        """Lines asking for more than the cart's fulfilment location holds. A cart read
        shows the same check again later, since stock keeps moving; `live` never lets the
        recent catalog answer for the inventory (checkout, choosing a pickup store)."""
        location = location_id or self.fulfilment_location(cart)
        skus = [line.sku for line in lines]
        levels = await self._levels(reads, skus, live=live)
        # other carts' holds only ever sit at stores
        held = await self.holds.held(skus) if location != self._online_location_id else {}
        wanted: dict[str, int] = dict(already)
        errors = []
        for i, (line, sku_levels) in enumerate(zip(lines, levels, strict=True)):
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
            shelf = _shelf_count(sku_levels, location)
            others = held.get(line.sku, NO_HOLDS).held_at(location, except_cart=cart.id)
            available = max(shelf - others, 0)
            if wanted[line.sku] > available:
                errors.append(
                    CartUserError(
                        CartErrorCode.OUT_OF_STOCK,
                        f"Only {available} of {line.sku} available {await self._where(location)}.",
                        ("lines", str(i), "quantity"),
                    )
                )
        return errors

    async def _levels(
        self, reads: CatalogReads, skus: Sequence[str], *, live: bool
    ) -> list[list[StockLevel]]:
        return await (reads.stock(skus) if live else stock_or_recent(reads, self._recent, skus))

    async def _where(self, location_id: str) -> str:
        """Where stock was counted, in a refusal's words: the store is named."""
        if location_id == self._online_location_id:
            return "for this cart's fulfilment"
        location = await self._stores.get(location_id)
        name = location.name if location is not None else "the store"
        return f"at {name} (store {location_id})"

    async def _write(
        self,
        cart: StoredCart,
        write: CartWrite,
        reads: CatalogReads | None,
        *,
        hold_at: str | None,
        checked: Collection[str] = (),
        live: bool = False,
    ) -> StoredCart | HoldRefused | None:
        """`write`, and with it the holds of the cart it leaves: its quantities at
        `hold_at` (its pickup store after the write), or nothing when it is not for pickup.
        A cart neither for pickup before nor after needs no transaction. `checked` SKUs
        must fit on the store's shelf beside other carts' holds; HoldRefused, and nothing
        written, when one does not."""
        if hold_at is None and cart.fulfillment is not FulfillmentType.PICKUP:
            return await write(None)
        shelf: dict[str, int] = {}
        if hold_at is not None and checked:
            assert reads is not None, "a checked hold reads the shelf"
            shelf = await self.shelf_at(hold_at, checked, reads, live=live)
        try:
            return await self.holds.change_cart(
                write, lambda written: self.hold_plan(written, shelf, checked)
            )
        except HoldRefused as refused:
            return refused

    async def shelf_at(
        self, store_id: str, skus: Collection[str], reads: CatalogReads, *, live: bool = False
    ) -> dict[str, int]:
        """The inventory's count of each SKU at `store_id`, for a hold's condition."""
        ordered = sorted(skus)
        levels = await self._levels(reads, ordered, live=live)
        return {sku: _shelf_count(lv, store_id) for sku, lv in zip(ordered, levels, strict=True)}

    def hold_plan(
        self, written: StoredCart, shelf: dict[str, int], checked: Collection[str]
    ) -> HoldPlan:
        """What `written` holds: its quantities at its pickup store, or nothing."""
        if written.fulfillment is not FulfillmentType.PICKUP or not written.pickup_store_id:
            return HoldPlan(written.id, None)
        quantities = {line.sku: written.quantity_of(line.sku) for line in written.lines}
        return HoldPlan(written.id, written.pickup_store_id, quantities, shelf, checked)

    async def hold_refused(self, cart: StoredCart, refused: HoldRefused) -> CartOutcome:
        """OUT_OF_STOCK naming the store; the cart as it is (the change rolled back)."""
        where = await self._where(refused.store_id)
        current = await self.store.get(cart.id)
        index = next((i for i, line in enumerate(cart.lines) if line.sku == refused.sku), None)
        return CartOutcome(
            current or cart,
            [
                CartUserError(
                    CartErrorCode.OUT_OF_STOCK,
                    f"Only {refused.available} of {refused.sku} can be held {where}: "
                    "other carts hold the rest.",
                    ("lines", str(index), "quantity") if index is not None else ("lines",),
                )
            ],
        )

    async def renew_hold(self, cart: StoredCart, reads: CatalogReads) -> CartOutcome | None:
        """Checkout's last word on a pickup cart's holds: every line held again at its store
        for a new TTL (an expired hold is taken afresh, if the shelf still allows), read
        live. The refusal if the store cannot hold them; None otherwise."""
        store_id = cart.pickup_store_id
        if cart.fulfillment is not FulfillmentType.PICKUP or store_id is None:
            return None
        held = await self._write(
            cart,
            lambda session: self.store.get(cart.id, session),
            reads,
            hold_at=store_id,
            checked={line.sku for line in cart.lines},
            live=True,
        )
        return await self.hold_refused(cart, held) if isinstance(held, HoldRefused) else None

    async def stock_errors_for(
        self, cart: StoredCart, reads: CatalogReads, location_id: str | None = None
    ) -> list[CartUserError]:
        """Every line of the cart checked against the stock now at `location_id` (default:
        the cart's fulfilment location), as the inventory says it now."""
        lines = [NewLine(line.sku, line.quantity, line.added_unit_price) for line in cart.lines]
        return await self._stock_errors(cart, {}, lines, reads, location_id, live=True)

    def repricing_errors(
        self, cart: StoredCart, products: Sequence[ProductRecord | None]
    ) -> list[CartUserError]:
        """The lines added at a recent price (`needs_repricing`) whose price today, from
        the source, rose past the tolerance: checkout refuses them (PRICE_CHANGED)."""
        return price_rises(cart, products, self._reprice_tolerance)

    def fulfilment_location(self, cart: StoredCart) -> str:
        """Where the cart's stock is counted and held: the pickup store, else online."""
        if cart.fulfillment is FulfillmentType.PICKUP and cart.pickup_store_id:
            return cart.pickup_store_id
        return self._online_location_id

    async def update_lines(
        self,
        principal: Principal,
        cart_id: str,
        quantities: dict[str, int],
        expected_version: int | None,
        reads: CatalogReads,
    ) -> CartOutcome:
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        bad = [line_id for line_id, q in quantities.items() if not 0 <= q <= self._max_quantity]
        if bad or not quantities:
            return CartOutcome.refused(
                cart,
                CartErrorCode.INVALID_QUANTITY,
                f"Quantity must be between 0 (removes the line) and {self._max_quantity}.",
                "lines",
            )
        raised = [
            NewLine(line.sku, quantities[line.id] - line.quantity, line.added_unit_price)
            for line in cart.lines
            if line.id in quantities and quantities[line.id] > line.quantity
        ]
        if raised:
            errors = await self._stock_errors(
                cart, {line.sku: cart.quantity_of(line.sku) for line in raised}, raised, reads
            )
            if errors:
                return CartOutcome(cart, errors)
        updated = await self._write(
            cart,
            lambda session: self.store.set_quantities(
                cart.id, quantities, expected_version, session
            ),
            reads,
            hold_at=cart.pickup_store_id if cart.fulfillment is FulfillmentType.PICKUP else None,
            checked={line.sku for line in raised},
        )
        if isinstance(updated, HoldRefused):
            return await self.hold_refused(cart, updated)
        return await self._result(updated, cart.id, expected_version, line_ids=list(quantities))

    async def remove_lines(
        self,
        principal: Principal,
        cart_id: str,
        line_ids: Sequence[str],
        expected_version: int | None,
    ) -> CartOutcome:
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        written = await self._write(
            cart,
            lambda session: self.store.remove_lines(cart.id, line_ids, expected_version, session),
            None,
            hold_at=cart.pickup_store_id if cart.fulfillment is FulfillmentType.PICKUP else None,
        )
        # nothing is checked: a lower hold always fits
        updated = None if isinstance(written, HoldRefused) else written
        return await self._result(updated, cart.id, expected_version, line_ids=line_ids)

    async def set_fulfillment(
        self,
        principal: Principal,
        cart_id: str,
        fulfillment: FulfillmentType,
        store_id: str | None,
        expected_version: int | None,
        reads: CatalogReads,
    ) -> CartOutcome:
        """Delivery, or pickup at a store that holds every line's quantity now: the cart's
        quantities are held there from now on (and released by delivery)."""
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        if fulfillment is FulfillmentType.PICKUP:
            if store_id is None:
                return CartOutcome.refused(
                    cart, CartErrorCode.STORE_REQUIRED, "Pickup needs a storeId.", "storeId"
                )
            location = await self._stores.get(store_id)
            if location is None or location.is_warehouse:
                return CartOutcome.refused(
                    cart, CartErrorCode.STORE_NOT_FOUND, "No store with this id.", "storeId"
                )
            at_store = replace(cart, fulfillment=FulfillmentType.PICKUP, pickup_store_id=store_id)
            errors = await self.stock_errors_for(at_store, reads)
            if errors:
                return CartOutcome(cart, errors)
        else:
            store_id = None
        updated = await self._write(
            cart,
            lambda session: self.store.set_fulfillment(
                cart.id, fulfillment, store_id, expected_version, session
            ),
            reads,
            hold_at=store_id,
            checked={line.sku for line in cart.lines},
            live=True,
        )
        if isinstance(updated, HoldRefused):
            return await self.hold_refused(cart, updated)
        return await self._result(updated, cart.id, expected_version)

    async def apply_promo_code(
        self,
        principal: Principal,
        cart_id: str,
        code: str,
        expected_version: int | None,
        reads: CatalogReads,
        channel: SalesChannel | None,
    ) -> CartOutcome:
        """Applied only if the offers engine applies it to this cart now, on `channel` (the
        one the caller prices for; None: the principal's own), with the codes already
        there. CHANNEL_NOT_ALLOWED, before the cart is read, for a channel the principal
        may not act on."""
        sales_channel = channel or default_channel(principal)
        refusal = channel_refusal(principal, sales_channel)
        if refusal is not None:
            return CartOutcome.refused(None, CartErrorCode.CHANNEL_NOT_ALLOWED, refusal, "channel")
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        normalised = normalise_code(code)
        price = await self.price(principal, cart, reads, sales_channel, (normalised,))
        outcome = next(o for o in price.offers if o.code == normalised)
        if outcome.refusal is not None:
            return CartOutcome(
                cart,
                [
                    CartUserError(
                        CartErrorCode.PROMO_NOT_APPLICABLE,
                        REFUSAL_MESSAGES[outcome.refusal],
                        ("code",),
                        reason=outcome.refusal.value,
                    )
                ],
            )
        updated = await self.store.add_promo_code(cart.id, normalised, expected_version)
        return await self._result(updated, cart.id, expected_version)

    async def reprice_lines(
        self,
        principal: Principal,
        cart_id: str,
        expected_version: int | None,
        reads: CatalogReads,
    ) -> CartOutcome:
        """The lines flagged for re-pricing take today's price, read from the source (never
        the recent catalog: an upstream failure fails this), as the price they were added
        at, and lose the flag: the shopper accepted it. A line whose product is gone keeps
        its flag (checkout refuses it anyway)."""
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        flagged = [line for line in cart.lines if line.needs_repricing]
        if not flagged:
            if expected_version is not None and expected_version != cart.version:
                return await self._result(None, cart.id, expected_version)
            return CartOutcome(cart, [])
        products = await reads.products([line.sku for line in flagged])
        prices: dict[str, Money] = {
            line.id: product.price
            for line, product in zip(flagged, products, strict=True)
            if product is not None
        }
        if not prices:
            return CartOutcome(cart, [])
        updated = await self.store.reprice_lines(cart.id, prices, expected_version)
        return await self._result(updated, cart.id, expected_version, line_ids=list(prices))

    async def apply_loyalty_points(
        self,
        principal: Principal,
        cart_id: str,
        points: int,
        expected_version: int | None,
        channel: SalesChannel | None = None,
    ) -> CartOutcome:
        """The customer spends `points` on this cart (0 spends none) in a checkout on
        `channel` (None: the principal's own), and on no other channel; the balance is
        checked now and again, by the loyalty system itself, at checkout.
        CHANNEL_NOT_ALLOWED, before the cart is read, for a channel the principal may not
        act on."""
        sales_channel = channel or default_channel(principal)
        refusal = channel_refusal(principal, sales_channel)
        if refusal is not None:
            return CartOutcome.refused(None, CartErrorCode.CHANNEL_NOT_ALLOWED, refusal, "channel")
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        if points < 0:
            return CartOutcome.refused(
                cart, CartErrorCode.INVALID_QUANTITY, "Points must be 0 or more.", "points"
            )
        if points > 0:
            loyalty = await self._offers.loyalty_of(cart.customer_id) if cart.customer_id else None
            if loyalty is None:
                return CartOutcome.refused(
                    cart,
                    CartErrorCode.NO_LOYALTY_ACCOUNT,
                    "Only a customer with a loyalty account spends points.",
                    "points",
                )
            if points > loyalty.balance:
                return CartOutcome.refused(
                    cart,
                    CartErrorCode.INSUFFICIENT_POINTS,
                    f"The balance holds {loyalty.balance} points.",
                    "points",
                )
        updated = await self.store.set_loyalty_points(
            cart.id, points, sales_channel.value, expected_version
        )
        return await self._result(updated, cart.id, expected_version)

    async def remove_promo_code(
        self, principal: Principal, cart_id: str, code: str, expected_version: int | None
    ) -> CartOutcome:
        cart = await self._open_cart(principal, cart_id)
        if isinstance(cart, CartOutcome):
            return cart
        normalised = normalise_code(code)
        updated = await self.store.remove_promo_code(cart.id, normalised, expected_version)
        return await self._result(updated, cart.id, expected_version, promo_code=normalised)

    async def _result(
        self,
        updated: StoredCart | None,
        cart_id: str,
        expected_version: int | None,
        *,
        line_ids: Sequence[str] = (),
        promo_code: str | None = None,
    ) -> CartOutcome:
        if updated is not None:
            return CartOutcome(updated, [])
        miss, current = await self.store.explain_miss(
            cart_id, expected_version, line_ids=line_ids, promo_code=promo_code
        )
        if miss is CartMiss.NOT_OPEN and current is not None:
            refused = _check_open(current)
            assert refused is not None
            return refused
        code, message = MISS_ERRORS[miss]
        field = {
            CartMiss.VERSION_CONFLICT: "expectedVersion",
            CartMiss.LINE_NOT_FOUND: "lines",
            CartMiss.PROMO_CODE_NOT_IN_CART: "code",
            CartMiss.LIMIT: "lines",
        }.get(miss)
        return CartOutcome(current, [CartUserError(code, message, (field,) if field else None)])


def _shelf_count(levels: Sequence[StockLevel], location_id: str) -> int:
    """What the inventory counts at one location (an oversold, negative count is 0)."""
    return sum(max(level.quantity, 0) for level in levels if level.location_id == location_id)


def _check_open(cart: StoredCart) -> CartOutcome | None:
    if cart.status is CartStatus.OPEN:
        return None
    if cart.status is CartStatus.CHECKING_OUT:
        return CartOutcome.refused(
            cart, CartErrorCode.CHECKOUT_IN_PROGRESS, "The cart is being checked out."
        )
    return CartOutcome.refused(
        cart, CartErrorCode.CART_NOT_OPEN, "The cart was checked out or merged; it is closed."
    )


def _not_found() -> CartOutcome:
    return CartOutcome.refused(None, CartErrorCode.NOT_FOUND, "No cart with this id.", "cartId")
