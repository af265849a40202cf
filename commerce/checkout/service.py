"""Checkout: the cart becomes one upstream order, exactly once per idempotency key, and an
online one is paid for exactly once (docs/payments.md).

The steps, each safe to repeat after a crash at any point:
1. the first attempt with a key prices the cart and stores the order draft under the key
   (a concurrent twin loses the insert and joins the winner's attempt);
2. the cart is frozen for that key (CHECKING_OUT), at the version the draft was priced at;
3. online (WEB, MOBILE): the card is authorised for the order's total under a payment key
   derived from ours (commerce/checkout/payment.py); a declined card ends the attempt,
   cart reopened, no money moved;
4. the draft goes upstream carrying a vendor idempotency key derived from ours, and online
   the authorised payment as a successful sale, so a retry after a crash gets the same
   order back instead of a second one; a refused order voids the payment;
5. one MongoDB transaction marks the attempt COMPLETED with the order, closes the cart and
   releases its pickup holds (commerce/holds): a crash before it leaves the holds in place,
   and the retry that completes the attempt releases them with it;
6. the payment is captured, then the paid order earns its points. In store the terminal
   takes the payment: the order earns its points when Square says it is paid
   (`settle_store_order`, from a payment webhook or the reconciler's poll).

A retry with the key replays the stored outcome, or resumes from the step it reached; the
reconciler (commerce/checkout/reconciler.py) does the same for attempts nobody retried.
An upstream that does not answer leaves the attempt pending: the client retries with the
same key, and the steps above find out what was done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from commerce.cart.errors import CartErrorCode, CartUserError
from commerce.cart.pricing import price_cart
from commerce.cart.service import CartService
from commerce.cart.store import CartStatus, FulfillmentType, StoredCart
from commerce.checkout.payment import CheckoutPayments, amount_due, paid_draft, payment_key
from commerce.checkout.refusals import (
    CheckoutOutcome,
    declined,
    failure,
    payment_missing,
    payment_refusal,
    promotion_refused,
    rejected,
    used_up_code,
)
from commerce.checkout.store import (
    CheckoutRecord,
    CheckoutState,
    CheckoutStore,
    PaymentState,
    checkout_id,
)
from commerce.customers.profiles import CustomerProfiles
from commerce.holds.store import HoldKey
from commerce.keyed_locks import KeyedLocks
from commerce.live.changes import StockChangeSink
from commerce.offers import (
    OffersEngine,
    RedemptionRefused,
    Redemptions,
    SalesChannel,
    channel_refusal,
)
from commerce.offers.loyalty import LoyaltyLedger, LoyaltySpend
from commerce.offers.outbox import EventType, Outbox
from commerce.offers.quotes import QUOTE_MESSAGES, Quote, QuoteProblem, QuoteSigner
from commerce.offers.referrals import Referrals
from commerce.order_changes import OrderChangeSink, announce_order_change
from commerce.ports import CatalogReads
from commerce.principal import Principal, PrincipalKind
from commerce.transactions import in_transaction
from connectors.errors import PaymentDeclined, UpstreamError, UpstreamRejected
from connectors.ports import EcommercePort, PaymentsPort, PosPort
from connectors.records import (
    Money,
    OrderDraft,
    OrderLineDraft,
    OrderRecord,
    PaymentRecord,
    PaymentStatus,
)

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
        payments: PaymentsPort,
        mongo: AsyncMongoClient[dict[str, Any]],
        default_currency: str,
        stock_changes: StockChangeSink | None = None,
        order_changes: OrderChangeSink | None = None,
    ) -> None:
        """`stock_changes`: told where an order took stock from, for live subscribers;
        `order_changes`: told of a store order now paid, for its followers."""
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
        self._payments = CheckoutPayments(payments, checkouts)
        self._mongo = mongo
        self._default_currency = default_currency
        self._stock_changes = stock_changes
        self._order_changes = order_changes
        self._in_flight = KeyedLocks()

    async def checkout(
        self,
        principal: Principal,
        cart_id: str,
        channel: SalesChannel,
        key: str,
        reads: CatalogReads,
        quote: str | None = None,
        payment_token: str | None = None,
    ) -> CheckoutOutcome:
        """`quote`: a signed quote (commerce/offers/quotes.py) to honour instead of pricing
        the cart again, so this channel charges what another one showed. Any channel
        honours it: issuing one is refused on a channel the issuer may not act on, so the
        channel a quote was priced for is one its issuer could use.

        `payment_token`: the card token of an online checkout (Square's Web Payments SDK);
        required on WEB and MOBILE unless the total is zero (points pay for all of it, which
        is known once the cart is priced), refused in store, where the terminal takes the
        payment.
        The first call with a key decides which card pays: a retry's token is not used."""
        refusal = channel_refusal(principal, channel)
        if refusal is not None:
            # before the cart is even looked up: nothing is read, priced or placed
            return CheckoutOutcome.refused(
                None, CartErrorCode.CHANNEL_NOT_ALLOWED, refusal, "channel"
            )
        no_payment = payment_refusal(channel, payment_token)
        if no_payment is not None:
            return CheckoutOutcome(None, None, [no_payment])
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
                started = await self._start(
                    principal, cart, channel, record_id, reads, quote, payment_token
                )
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
        payment_token: str | None,
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
        if not channel.in_store and payment_token is None and amount_due(drafted.draft).amount > 0:
            return CheckoutOutcome(None, cart, [payment_missing()])
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
            payment_token=payment_token,
            payment_key=None if payment_token is None else payment_key(record_id),
        )
        return started  # None: a concurrent request took the key first

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
        # the pickup store holds the lines until the order is placed, for a fresh TTL
        refused = await self._carts.renew_hold(cart, reads)
        if refused is not None:
            return CheckoutOutcome(None, refused.cart, refused.errors)
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
            used_up = used_up_code(price.offers)
            if used_up is not None:
                return promotion_refused(cart, *used_up)
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
        if record.state is CheckoutState.COMPLETED:
            await self.settle(record.id)
            current = await self._carts.store.get(cart.id)
            return CheckoutOutcome(record.order, current, replayed=True)
        current = await self._carts.store.get(cart.id)
        return CheckoutOutcome(None, current, [failure(record)], replayed=True)

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
            return promotion_refused(
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
        in_store = SalesChannel(record.channel).in_store
        draft = record.draft
        payment: PaymentRecord | None = None
        nothing_due = not in_store and amount_due(draft).amount <= 0
        if not in_store and not nothing_due:
            try:
                payment = await self._payments.authorise(record)
            except PaymentDeclined as exc:
                # no money moved: the points come back, the cart reopens as it was
                reason = exc.decline_code
                refused = declined(exc.public_message, reason)
                if spend is not None:
                    await self._loyalty.refund(record.id, spend)
                await self._in_transaction(
                    lambda session: self._refused(
                        record,
                        refused.message,
                        session,
                        code=refused.code.value,
                        reason=reason,
                    )
                )
                return CheckoutOutcome(None, await self._carts.store.get(cart.id), [refused])
            if payment.status is PaymentStatus.CANCELED:
                # the hold was released by an earlier try of this attempt whose order was
                # refused (it crashed before recording that): refused again, no order
                message = "The payment for this checkout was released: check out again."
                await self._in_transaction(lambda session: self._refused(record, message, session))
                return CheckoutOutcome(
                    None, await self._carts.store.get(cart.id), [rejected(message)]
                )
            await self.after_payment_authorised(record)
            draft = paid_draft(draft, payment)
        port = self._pos if in_store else self._ecommerce
        try:
            order = await port.place_order(draft)
        except UpstreamRejected as exc:
            message = exc.public_message
            if payment is not None:
                # no money without an order: the hold is released before the cart reopens
                await self._payments.void(record.id, payment.ref.id)
            if spend is not None:
                await self._loyalty.refund(record.id, spend)
            await self._in_transaction(lambda session: self._refused(record, message, session))
            return CheckoutOutcome(None, await self._carts.store.get(cart.id), [rejected(message)])
        await self.after_upstream_order(record)
        released, closed = await self._in_transaction(
            lambda session: self._completed(record, order, session, nothing_due=nothing_due)
        )
        await self._carts.holds.announce(released)
        await self._stock_moved(record)
        await self.after_order_recorded(record)
        # the attempt as just recorded, without reading it back
        recorded = replace(
            record,
            state=CheckoutState.COMPLETED,
            order=order,
            payment_state=PaymentState.AUTHORIZED if payment is not None else None,
            payment_id=payment.ref.id if payment is not None else None,
            paid=nothing_due,
        )
        await self.settle(record.id, recorded)
        return CheckoutOutcome(order, closed or await self._carts.store.get(cart.id))

    async def settle(self, record_id: str, known: CheckoutRecord | None = None) -> None:
        """What is left once the order is recorded, each step once however often this runs
        (every replay and the reconciler run it): the held payment captured, the order
        announced, and, once the money is taken, its referral rewarded (keyed by the
        attempt) and its points earned. An upstream that does not answer leaves the rest to
        the next run.
        `known`: the attempt as the caller just wrote it, saving a read."""
        record = known or await self._checkouts.get(record_id)
        if (
            record is None
            or record.state is not CheckoutState.COMPLETED
            or record.order is None
            or record.settled
        ):
            return
        if record.payment_state is PaymentState.AUTHORIZED:
            try:
                await self._payments.capture(record)
            except UpstreamError as exc:
                log.warning("payment of checkout %s not captured yet: %s", record.id, exc)
                return
            record = replace(record, payment_state=PaymentState.CAPTURED, paid=True)
        if record.order is None:
            return
        order = record.order
        await self._announce(record, order)
        if not record.paid:
            return  # a store order: its referral and points wait for the terminal's payment
        if record.customer_id is not None and record.promotion_ids:
            await self._referrals.reward(
                record.id, record.promotion_ids, record.customer_id, order.total.currency
            )
        earned = await self._earn(record, order)
        if earned:
            await self._checkouts.mark_settled(record.id)

    async def settle_store_order(self, order_id: str) -> bool:
        """A POS order Square may now hold paid (a payment webhook named it, or the
        reconciler polls it): once Square says it is paid in full, the attempt is paid and
        its points are earned. False when it is no checkout's order or not paid yet."""
        record = await self._checkouts.by_order(order_id)
        if record is None or not SalesChannel(record.channel).in_store:
            return False
        if not record.paid:
            if not await self._payments.order_paid(order_id):
                return False
            await self._checkouts.mark_paid(record.id)
            await announce_order_change(self._order_changes, order_id)
        await self.settle(record.id)
        return True

    async def reconcile(self, record: CheckoutRecord) -> None:
        """An attempt nobody finished (the reconciler found it): taken on as its client's
        retry would, or dropped when nothing of it reached anyone."""
        if record.state is CheckoutState.COMPLETED:
            store_order = record.order is not None and SalesChannel(record.channel).in_store
            if store_order and record.order is not None and not record.paid:
                await self.settle_store_order(record.order.ref.id)
                return
            await self.settle(record.id)
            return
        if record.state is not CheckoutState.PENDING:
            return
        cart = await self._carts.store.get(record.cart_id)
        frozen_for_it = cart is not None and cart.checkout_key == record.id
        if cart is None or (not frozen_for_it and record.payment_state is None):
            # never frozen, nothing sent: the attempt is void, the cart untouched
            await self._checkouts.abandon(record.id)
            return
        await self._resume(record, cart, SalesChannel(record.channel))

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

    async def _announce(self, record: CheckoutRecord, order: OrderRecord) -> None:
        """The order announced, keyed by the attempt, so running this again (every replay
        does) announces nothing twice."""
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

    async def _earn(self, record: CheckoutRecord, order: OrderRecord) -> bool:
        """Points for the paid order, once (a vendor key per attempt); False when a loyalty
        system that does not answer leaves it to the next replay or reconciler run."""
        if record.customer_id is None or record.loyalty_account_id is None:
            return True
        if record.points_earned is not None:
            return True
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
            return False
        await self._checkouts.mark_points_earned(record.id, earned)
        return True

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

    async def after_payment_authorised(self, record: CheckoutRecord) -> None:
        """Between holding the money and placing the order (tests inject a crash here)."""

    async def after_upstream_order(self, record: CheckoutRecord) -> None:
        """Between the upstream order and closing the cart: where a crash hurts most (tests
        inject one here to show the retry reconciles)."""

    async def after_order_recorded(self, record: CheckoutRecord) -> None:
        """Between recording the order and capturing its payment (tests crash here too)."""

    async def _completed(
        self,
        record: CheckoutRecord,
        order: OrderRecord,
        session: AsyncClientSession,
        *,
        nothing_due: bool = False,
    ) -> tuple[set[HoldKey], StoredCart | None]:
        """The attempt COMPLETED, the cart closed, its holds released: the (store, SKU)s
        whose holds that released, and the cart as closed (the answer shows it)."""
        await self._checkouts.complete(record.id, order, session, nothing_due=nothing_due)
        closed = await self._carts.store.finish_checkout(record.cart_id, record.id, session)
        await self._redemptions.commit(record.id, session)
        if not record.draft.pickup:
            return set(), closed  # a delivery cart holds nothing: choosing delivery released it
        return await self._carts.holds.store.release(session, record.cart_id), closed

    async def _released(self, record: CheckoutRecord, session: AsyncClientSession) -> None:
        await self._carts.store.release_checkout(record.cart_id, record.id, session)
        await self._redemptions.release(record.id, session)

    async def _refused(
        self,
        record: CheckoutRecord,
        message: str,
        session: AsyncClientSession,
        *,
        code: str = CartErrorCode.ORDER_REJECTED.value,
        reason: str | None = None,
    ) -> None:
        await self._checkouts.fail(record.id, message, session, code=code, reason=reason)
        await self._carts.store.release_checkout(record.cart_id, record.id, session)
        await self._redemptions.release(record.id, session)

    async def _in_transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        return await in_transaction(self._mongo, work)


def _spend(record: CheckoutRecord) -> LoyaltySpend | None:
    if record.loyalty_points <= 0 or record.customer_id is None or not record.loyalty_account_id:
        return None
    return LoyaltySpend(record.customer_id, record.loyalty_account_id, record.loyalty_points)
