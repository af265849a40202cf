"""Checkout: the cart becomes one upstream order, exactly once per idempotency key.

The steps, each safe to repeat after a crash at any point:
1. the first attempt with a key prices the cart and stores the order draft under the key
   (a concurrent twin loses the insert and joins the winner's attempt);
2. the cart is frozen for that key (CHECKING_OUT), at the version the draft was priced at;
3. the draft goes upstream carrying a vendor idempotency key derived from ours, so a retry
   after a crash gets the same order back instead of a second one;
4. one MongoDB transaction marks the attempt COMPLETED with the order and closes the cart.

A retry with the key replays the stored outcome, or resumes from the step it reached. A
refusal by the upstream (a rejected order) reopens the cart and is replayed as refused.
An upstream that does not answer leaves the attempt pending: the client retries with the
same key, and step 3 finds out whether the order was made.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from commerce.cart.errors import CartErrorCode, CartUserError
from commerce.cart.pricing import price_cart
from commerce.cart.service import CartService
from commerce.cart.store import CartStatus, FulfillmentType, StoredCart
from commerce.checkout.store import CheckoutRecord, CheckoutState, CheckoutStore, checkout_id
from commerce.customers.profiles import CustomerProfiles
from commerce.keyed_locks import KeyedLocks
from commerce.live.changes import StockChangeSink
from commerce.offers import (
    REFUSAL_MESSAGES,
    OfferOutcome,
    OfferRefusal,
    OffersEngine,
    Promotion,
    RedemptionRefused,
    Redemptions,
    SalesChannel,
    channel_refusal,
)
from commerce.offers.loyalty import LoyaltyLedger, LoyaltySpend
from commerce.offers.outbox import EventType, Outbox
from commerce.offers.quotes import QUOTE_MESSAGES, Quote, QuoteProblem, QuoteSigner
from commerce.offers.referrals import Referrals
from commerce.ports import CatalogReads
from commerce.principal import Principal, PrincipalKind
from commerce.transactions import in_transaction
from connectors.errors import UpstreamError, UpstreamRejected
from connectors.ports import EcommercePort, PosPort
from connectors.records import Money, OrderDraft, OrderLineDraft, OrderRecord

log = logging.getLogger(__name__)
MAX_KEY_LENGTH = 128
T = TypeVar("T")

__all__ = ["CheckoutOutcome", "CheckoutService", "SalesChannel", "key_scope"]


@dataclass(frozen=True, slots=True)
class Drafted:
    draft: OrderDraft
    promotion_ids: tuple[str, ...]
    loyalty_account_id: str | None
    loyalty_points: int


@dataclass(slots=True)
class CheckoutOutcome:
    order: OrderRecord | None
    cart: StoredCart | None
    errors: list[CartUserError] = field(default_factory=list)
    replayed: bool = False

    @classmethod
    def refused(
        cls, cart: StoredCart | None, code: CartErrorCode, message: str, *path: str
    ) -> CheckoutOutcome:
        return cls(None, cart, [CartUserError(code, message, path or None)])


def key_scope(principal: Principal, cart: StoredCart) -> str:
    """Whose keys these are: a customer's own, a staff member's, or the guest cart's."""
    if principal.customer_id is not None:
        return f"customer:{principal.customer_id}"
    if principal.kind is PrincipalKind.STAFF and principal.subject:
        return f"staff:{principal.subject}"
    return f"guest:{cart.guest_token_sha256}"


class CheckoutService:
    def __init__(
        self,
        *,
        carts: CartService,
        checkouts: CheckoutStore,
        offers: OffersEngine,
        redemptions: Redemptions,
        quotes: QuoteSigner,
        loyalty: LoyaltyLedger,
        referrals: Referrals,
        outbox: Outbox,
        customers: CustomerProfiles,
        ecommerce: EcommercePort,
        pos: PosPort,
        mongo: AsyncMongoClient[dict[str, Any]],
        default_currency: str,
        stock_changes: StockChangeSink | None = None,
    ) -> None:
        """`stock_changes`: told where an order took stock from, for live subscribers."""
        self._carts = carts
        self._checkouts = checkouts
        self._offers = offers
        self._redemptions = redemptions
        self._quotes = quotes
        self._loyalty = loyalty
        self._referrals = referrals
        self._outbox = outbox
        self._customers = customers
        self._ecommerce = ecommerce
        self._pos = pos
        self._mongo = mongo
        self._default_currency = default_currency
        self._stock_changes = stock_changes
        self._in_flight = KeyedLocks()

    async def checkout(
        self,
        principal: Principal,
        cart_id: str,
        channel: SalesChannel,
        key: str,
        reads: CatalogReads,
        quote: str | None = None,
    ) -> CheckoutOutcome:
        """`quote`: a signed quote (commerce/offers/quotes.py) to honour instead of pricing
        the cart again, so this channel charges what another one showed. Any channel
        honours it: issuing one is refused on a channel the issuer may not act on, so the
        channel a quote was priced for is one its issuer could use."""
        refusal = channel_refusal(principal, channel)
        if refusal is not None:
            # before the cart is even looked up: nothing is read, priced or placed
            return CheckoutOutcome.refused(
                None, CartErrorCode.CHANNEL_NOT_ALLOWED, refusal, "channel"
            )
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            return CheckoutOutcome.refused(
                None,
                CartErrorCode.INVALID_IDEMPOTENCY_KEY,
                f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} printable characters.",
                "idempotencyKey",
            )
        cart = await self._carts.find(principal, cart_id)
        if cart is None:
            return CheckoutOutcome.refused(
                None, CartErrorCode.NOT_FOUND, "No cart with this id.", "cartId"
            )
        record_id = checkout_id(key_scope(principal, cart), key)
        for _ in range(3):
            record = await self._checkouts.get(record_id)
            if record is None:
                started = await self._start(principal, cart, channel, record_id, reads, quote)
                if isinstance(started, CheckoutOutcome):
                    return started
                if started is None:
                    continue  # a concurrent request took the key first: join it
                record = started
            return await self._resume(record, cart, channel)
        raise RuntimeError("checkout record kept changing under us")

    async def _start(
        self,
        principal: Principal,
        cart: StoredCart,
        channel: SalesChannel,
        record_id: str,
        reads: CatalogReads,
        quote: str | None,
    ) -> CheckoutRecord | CheckoutOutcome | None:
        """A new attempt's draft, stored; an outcome if the cart cannot be checked out."""
        if cart.status is CartStatus.CHECKING_OUT:
            return CheckoutOutcome.refused(
                cart, CartErrorCode.CHECKOUT_IN_PROGRESS, "The cart is being checked out."
            )
        if cart.status is not CartStatus.OPEN:
            return CheckoutOutcome.refused(
                cart, CartErrorCode.CART_NOT_OPEN, "The cart is closed.", "cartId"
            )
        if not cart.lines:
            return CheckoutOutcome.refused(cart, CartErrorCode.EMPTY_CART, "The cart is empty.")
        drafted = await self._draft(principal, cart, channel, record_id, reads, quote)
        if isinstance(drafted, CheckoutOutcome):
            return drafted
        started = await self._checkouts.start(
            record_id,
            cart.id,
            channel.value,
            cart.version,
            drafted.draft,
            promotion_ids=drafted.promotion_ids,
            customer_id=cart.customer_id,
            loyalty_account_id=drafted.loyalty_account_id,
            loyalty_points=drafted.loyalty_points,
        )
        if not started:
            return None
        return await self._checkouts.get(record_id)

    async def _draft(
        self,
        principal: Principal,
        cart: StoredCart,
        channel: SalesChannel,
        record_id: str,
        reads: CatalogReads,
        quote: str | None,
    ) -> Drafted | CheckoutOutcome:
        """The order to place, the promotions it redeems and the points it spends; or why
        it cannot be placed."""
        honoured = self._honoured(cart, quote) if quote is not None else None
        if isinstance(honoured, CartUserError):
            return CheckoutOutcome(None, cart, [honoured])
        products = await reads.products([line.sku for line in cart.lines])
        for i, product in enumerate(products):
            if product is None:
                return CheckoutOutcome.refused(
                    cart,
                    CartErrorCode.PRODUCT_NOT_FOUND,
                    f"{cart.lines[i].sku} is no longer sold: remove it to check out.",
                    "lines",
                    str(i),
                )
        if honoured is None:
            # every line is priced from the source below; one added at a recent price that
            # rose past the tolerance is refused, not charged (a quote's prices came from
            # the source and were shown: it is honoured as quoted)
            moved = self._carts.repricing_errors(cart, products)
            if moved:
                return CheckoutOutcome(None, cart, moved)
        location_id = cart.pickup_store_id if cart.fulfillment is FulfillmentType.PICKUP else None
        if channel.in_store:
            location_id = principal.store_id or location_id
            if location_id is None:
                return CheckoutOutcome.refused(
                    cart,
                    CartErrorCode.STORE_REQUIRED,
                    "An in-store checkout needs a store: a kiosk or staff token, or pickup.",
                    "channel",
                )
        # At a till or kiosk the goods come from that store's shelves; otherwise from where
        # the cart is fulfilled (the warehouse, or the pickup store).
        stock_errors = await self._carts.stock_errors_for(
            cart, reads, location_id if channel.in_store else None
        )
        if stock_errors:
            return CheckoutOutcome(None, cart, stock_errors)
        refs: tuple[Any, ...] = ()
        loyalty = None
        if cart.customer_id is not None:
            read = await self._customers.one(cart.customer_id)
            refs = read.profile.external_refs if read is not None else ()
            loyalty = read.profile.loyalty if read is not None else None
        # points applied on another channel are not this checkout's to spend
        points = honoured.loyalty_points if honoured is not None else cart.points_for(channel)
        if points > 0 and (loyalty is None or loyalty.balance < points):
            code = (
                CartErrorCode.NO_LOYALTY_ACCOUNT
                if loyalty is None
                else (CartErrorCode.INSUFFICIENT_POINTS)
            )
            return CheckoutOutcome.refused(
                cart, code, "The loyalty balance does not hold the points spent.", "cartId"
            )
        if honoured is not None:
            lines = tuple(
                OrderLineDraft(line.sku, line.quantity, Money(line.unit_price, honoured.currency))
                for line in honoured.lines
            )
            currency, discount = honoured.currency, honoured.discount
            promotion_ids = honoured.promotion_ids
        else:
            price = await price_cart(
                cart,
                reads,
                self._offers,
                self._default_currency,
                channel=channel.value,
                store_id=location_id,
            )
            lines = tuple(
                OrderLineDraft(line.sku, line.quantity, product.price)
                for line, product in zip(cart.lines, products, strict=True)
                if product is not None
            )
            used_up = _used_up_code(price.offers)
            if used_up is not None:
                return _promotion_refused(cart, *used_up)
            currency, discount = price.subtotal.currency, price.discount.amount
            promotion_ids = tuple(price.promotion_ids)
        draft = OrderDraft(
            idempotency_key=record_id,
            customer_refs=refs,
            lines=lines,
            currency=currency,
            location_id=location_id,
            pickup=cart.fulfillment is FulfillmentType.PICKUP,
            discount=Money(discount, currency) if discount > 0 else None,
            note=f"omnigate cart {cart.id}",
        )
        return Drafted(
            draft, promotion_ids, loyalty.account.id if loyalty is not None else None, points
        )

    def _honoured(self, cart: StoredCart, token: str) -> Quote | CartUserError:
        """The quote if it is to be honoured for this cart as it is now."""
        verified = self._quotes.verify(token)
        if isinstance(verified, Quote) and (
            verified.cart_id != cart.id or verified.cart_version != cart.version
        ):
            verified = QuoteProblem.QUOTE_STALE
        if isinstance(verified, QuoteProblem):
            return CartUserError(
                CartErrorCode(verified.value), QUOTE_MESSAGES[verified], ("quote",)
            )
        return verified

    async def _resume(
        self, record: CheckoutRecord, cart: StoredCart, channel: SalesChannel
    ) -> CheckoutOutcome:
        if record.cart_id != cart.id or record.channel != channel.value:
            return CheckoutOutcome.refused(
                cart,
                CartErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This idempotency key was used for another cart or channel.",
                "idempotencyKey",
            )
        if record.state is not CheckoutState.PENDING:
            return await self._replay(record, cart)
        # Twins in this pod wait for the first and replay its outcome; vendors without an
        # idempotency key of their own (Shopify's orderCreate) are then asked once per pod.
        async with self._in_flight.hold(record.id):
            fresh = await self._checkouts.get(record.id)
            if fresh is None:
                return CheckoutOutcome.refused(
                    await self._carts.store.get(cart.id),
                    CartErrorCode.CONFLICT,
                    "The cart changed while checking out: review it and check out again.",
                    "cartId",
                )
            if fresh.state is not CheckoutState.PENDING:
                return await self._replay(fresh, cart)
            return await self._place(fresh, cart)

    async def _replay(self, record: CheckoutRecord, cart: StoredCart) -> CheckoutOutcome:
        current = await self._carts.store.get(cart.id)
        if record.state is CheckoutState.COMPLETED:
            if record.order is not None:
                await self._after_order(record, record.order)
            return CheckoutOutcome(record.order, current, replayed=True)
        return CheckoutOutcome(None, current, [_rejected(record.failure_message)], replayed=True)

    async def _place(self, record: CheckoutRecord, cart: StoredCart) -> CheckoutOutcome:
        await self._redemptions.prepare(record.promotion_ids, record.customer_id)
        try:
            frozen = await self._in_transaction(
                lambda session: self._freeze_and_reserve(record, session)
            )
        except RedemptionRefused as exc:
            # Nothing was frozen nor counted (the transaction rolled back), nothing went
            # upstream: the attempt is void, the cart stays open for the shopper to review.
            await self._checkouts.abandon(record.id)
            return _promotion_refused(
                await self._carts.store.get(cart.id), exc.promotion, exc.reason
            )
        if not frozen:
            # The cart moved on before this attempt froze it, so nothing went upstream: the
            # attempt is void and the client checks out the cart as it now is.
            await self._checkouts.abandon(record.id)
            current = await self._carts.store.get(cart.id)
            if current is not None and current.status is CartStatus.CHECKING_OUT:
                return CheckoutOutcome.refused(
                    current, CartErrorCode.CHECKOUT_IN_PROGRESS, "The cart is being checked out."
                )
            return CheckoutOutcome.refused(
                current,
                CartErrorCode.CONFLICT,
                "The cart changed while checking out: review it and check out again.",
                "cartId",
            )
        spend = _spend(record)
        if spend is not None:
            try:
                await self._loyalty.burn(record.id, spend)
            except UpstreamRejected:
                # The loyalty system refused: the balance no longer holds the points (spent
                # on another channel meanwhile). Nothing went upstream: reopen and say so.
                await self._in_transaction(lambda session: self._released(record, session))
                await self._checkouts.abandon(record.id)
                return CheckoutOutcome.refused(
                    await self._carts.store.get(cart.id),
                    CartErrorCode.INSUFFICIENT_POINTS,
                    "The loyalty balance no longer holds the points spent on this cart.",
                    "cartId",
                )
        port = self._pos if SalesChannel(record.channel).in_store else self._ecommerce
        try:
            order = await port.place_order(record.draft)
        except UpstreamRejected as exc:
            message = exc.public_message
            if spend is not None:
                await self._loyalty.refund(record.id, spend)
            await self._in_transaction(lambda session: self._refused(record, message, session))
            return CheckoutOutcome(None, await self._carts.store.get(cart.id), [_rejected(message)])
        await self.after_upstream_order(record)
        await self._in_transaction(lambda session: self._completed(record, order, session))
        await self._stock_moved(record)
        await self._after_order(record, order)
        return CheckoutOutcome(order, await self._carts.store.get(cart.id))

    async def _stock_moved(self, record: CheckoutRecord) -> None:
        """The order took its lines from the store (or online stock): live subscribers
        re-read them. Best effort: the order stands whether or not they hear of it."""
        if self._stock_changes is None:
            return
        skus = [line.sku for line in record.draft.lines]
        try:
            await self._stock_changes.stock_changed(record.draft.location_id, skus)
        except PyMongoError as exc:
            log.warning("checkout %s: live stock subscribers not told: %s", record.id, exc)

    async def _after_order(self, record: CheckoutRecord, order: OrderRecord) -> None:
        """What a completed order earns: loyalty points, referral vouchers. Each is keyed
        by the attempt, so running this again (every replay does) adds nothing twice."""
        await self._outbox.emit(
            f"order-placed:{record.id}",
            EventType.ORDER_PLACED,
            {
                "orderId": order.ref.id,
                "system": order.ref.system.value,
                "channel": record.channel,
                "customerId": record.customer_id,
                "cartId": record.cart_id,
                "total": {
                    "amount": format(order.total.amount, "f"),
                    "currency": order.total.currency,
                },
                "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
                "promotionIds": list(record.promotion_ids),
            },
        )
        await self._earn(record, order)
        if record.customer_id is not None and record.promotion_ids:
            await self._referrals.reward(
                record.id, record.promotion_ids, record.customer_id, order.total.currency
            )

    async def _earn(self, record: CheckoutRecord, order: OrderRecord) -> None:
        """Points for the order, once (a vendor key per attempt); a loyalty system that does
        not answer leaves it to the next replay of this key."""
        if record.customer_id is None or record.loyalty_account_id is None:
            return
        if record.points_earned is not None:
            return
        try:
            earned = await self._loyalty.earn(
                record.id,
                record.customer_id,
                record.loyalty_account_id,
                order,
                SalesChannel(record.channel).in_store,
            )
        except UpstreamError as exc:
            log.warning("loyalty points for checkout %s not earned yet: %s", record.id, exc)
            return
        await self._checkouts.mark_points_earned(record.id, earned)

    async def _freeze_and_reserve(
        self, record: CheckoutRecord, session: AsyncClientSession
    ) -> bool:
        """One transaction: the cart frozen for this attempt and its promotions' redemptions
        reserved (raises RedemptionRefused if a limit is full, undoing both)."""
        frozen = await self._carts.store.freeze_for_checkout(
            record.cart_id, record.id, record.cart_version, session
        )
        if frozen:
            await self._redemptions.reserve(
                record.id, record.promotion_ids, record.customer_id, session
            )
        return frozen

    async def after_upstream_order(self, record: CheckoutRecord) -> None:
        """Between the upstream order and closing the cart: where a crash hurts most (tests
        inject one here to show the retry reconciles)."""

    async def _completed(
        self, record: CheckoutRecord, order: OrderRecord, session: AsyncClientSession
    ) -> None:
        await self._checkouts.complete(record.id, order, session)
        await self._carts.store.finish_checkout(record.cart_id, record.id, session)
        await self._redemptions.commit(record.id, session)

    async def _released(self, record: CheckoutRecord, session: AsyncClientSession) -> None:
        await self._carts.store.release_checkout(record.cart_id, record.id, session)
        await self._redemptions.release(record.id, session)

    async def _refused(
        self, record: CheckoutRecord, message: str, session: AsyncClientSession
    ) -> None:
        await self._checkouts.fail(record.id, message, session)
        await self._carts.store.release_checkout(record.cart_id, record.id, session)
        await self._redemptions.release(record.id, session)

    async def _in_transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        return await in_transaction(self._mongo, work)


# The refusals a redemption gives at checkout (Redemptions.reserve)
USED_UP = frozenset({OfferRefusal.USAGE_LIMIT_REACHED, OfferRefusal.ALREADY_USED})


def _used_up_code(offers: Sequence[OfferOutcome]) -> tuple[Promotion, OfferRefusal] | None:
    """A code on the cart that has been used up since the shopper saw it take its discount
    off. The checkout is refused for it, as the redemption would refuse it had the last use
    come a moment later, not placed at a price the shopper was never shown."""
    for outcome in offers:
        if outcome.code is None or outcome.promotion is None or outcome.refusal is None:
            continue
        if outcome.refusal in USED_UP:
            return outcome.promotion, outcome.refusal
    return None


def _promotion_refused(
    cart: StoredCart | None, promotion: Promotion, reason: OfferRefusal
) -> CheckoutOutcome:
    message = f"{promotion.code or promotion.title}: {REFUSAL_MESSAGES[reason]}"
    error = CartUserError(
        CartErrorCode.PROMO_NOT_APPLICABLE, message, ("cartId",), reason=reason.value
    )
    return CheckoutOutcome(None, cart, [error])


def _spend(record: CheckoutRecord) -> LoyaltySpend | None:
    if record.loyalty_points <= 0 or record.customer_id is None or not record.loyalty_account_id:
        return None
    return LoyaltySpend(record.customer_id, record.loyalty_account_id, record.loyalty_points)


def _rejected(message: str | None) -> CartUserError:
    return CartUserError(
        CartErrorCode.ORDER_REJECTED,
        message or "The order was refused by the system of record.",
        ("cartId",),
    )
