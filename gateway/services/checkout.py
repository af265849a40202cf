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

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from connectors.errors import UpstreamRejected
from connectors.ports import EcommercePort, PosPort
from connectors.records import OrderDraft, OrderLineDraft, OrderRecord
from gateway.auth import Principal, PrincipalKind
from gateway.loaders import Loaders
from gateway.services.cart_errors import CartErrorCode, CartUserError
from gateway.services.cart_pricing import price_cart
from gateway.services.carts import CartService
from gateway.services.customers import CustomerProfiles
from gateway.store.carts import CartStatus, FulfillmentType, StoredCart
from gateway.store.checkouts import CheckoutRecord, CheckoutState, CheckoutStore, checkout_id
from gateway.store.keyed_locks import KeyedLocks
from gateway.store.promo_codes import PromoCodes

MAX_KEY_LENGTH = 128


class SalesChannel(StrEnum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    STORE = "STORE"
    KIOSK = "KIOSK"

    @property
    def in_store(self) -> bool:
        return self in (SalesChannel.STORE, SalesChannel.KIOSK)


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
        promo_codes: PromoCodes,
        customers: CustomerProfiles,
        ecommerce: EcommercePort,
        pos: PosPort,
        mongo: AsyncMongoClient[dict[str, Any]],
        default_currency: str,
    ) -> None:
        self._carts = carts
        self._checkouts = checkouts
        self._promo_codes = promo_codes
        self._customers = customers
        self._ecommerce = ecommerce
        self._pos = pos
        self._mongo = mongo
        self._default_currency = default_currency
        self._in_flight = KeyedLocks()

    async def checkout(
        self,
        principal: Principal,
        cart_id: str,
        channel: SalesChannel,
        key: str,
        loaders: Loaders,
    ) -> CheckoutOutcome:
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
                started = await self._start(principal, cart, channel, record_id, loaders)
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
        loaders: Loaders,
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
        draft = await self._draft(principal, cart, channel, record_id, loaders)
        if isinstance(draft, CheckoutOutcome):
            return draft
        if not await self._checkouts.start(record_id, cart.id, channel.value, cart.version, draft):
            return None
        return await self._checkouts.get(record_id)

    async def _draft(
        self,
        principal: Principal,
        cart: StoredCart,
        channel: SalesChannel,
        record_id: str,
        loaders: Loaders,
    ) -> OrderDraft | CheckoutOutcome:
        products = await loaders.product_by_sku.load_many([line.sku for line in cart.lines])
        for i, product in enumerate(products):
            if product is None:
                return CheckoutOutcome.refused(
                    cart,
                    CartErrorCode.PRODUCT_NOT_FOUND,
                    f"{cart.lines[i].sku} is no longer sold: remove it to check out.",
                    "lines",
                    str(i),
                )
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
            cart, loaders, location_id if channel.in_store else None
        )
        if stock_errors:
            return CheckoutOutcome(None, cart, stock_errors)
        price = await price_cart(cart, loaders, self._promo_codes, self._default_currency)
        refs: tuple[Any, ...] = ()
        if cart.customer_id is not None:
            read = await self._customers.one(cart.customer_id)
            refs = read.profile.external_refs if read is not None else ()
        return OrderDraft(
            idempotency_key=record_id,
            customer_refs=refs,
            lines=tuple(
                OrderLineDraft(line.sku, line.quantity, product.price)
                for line, product in zip(cart.lines, products, strict=True)
                if product is not None
            ),
            currency=price.subtotal.currency,
            location_id=location_id,
            pickup=cart.fulfillment is FulfillmentType.PICKUP,
            discount=price.discount if price.discount.amount > 0 else None,
            note=f"omnigate cart {cart.id}",
        )

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
            return CheckoutOutcome(record.order, current, replayed=True)
        return CheckoutOutcome(None, current, [_rejected(record.failure_message)], replayed=True)

    async def _place(self, record: CheckoutRecord, cart: StoredCart) -> CheckoutOutcome:
        if not await self._carts.store.freeze_for_checkout(
            cart.id, record.id, record.cart_version, None
        ):
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
        port = self._pos if SalesChannel(record.channel).in_store else self._ecommerce
        try:
            order = await port.place_order(record.draft)
        except UpstreamRejected as exc:
            message = exc.public_message
            await self._in_transaction(lambda session: self._refused(record, message, session))
            return CheckoutOutcome(None, await self._carts.store.get(cart.id), [_rejected(message)])
        await self.after_upstream_order(record)
        await self._in_transaction(lambda session: self._completed(record, order, session))
        return CheckoutOutcome(order, await self._carts.store.get(cart.id))

    async def after_upstream_order(self, record: CheckoutRecord) -> None:
        """Between the upstream order and closing the cart: where a crash hurts most (tests
        inject one here to show the retry reconciles)."""

    async def _completed(
        self, record: CheckoutRecord, order: OrderRecord, session: AsyncClientSession
    ) -> None:
        await self._checkouts.complete(record.id, order, session)
        await self._carts.store.finish_checkout(record.cart_id, record.id, session)

    async def _refused(
        self, record: CheckoutRecord, message: str, session: AsyncClientSession
    ) -> None:
        await self._checkouts.fail(record.id, message, session)
        await self._carts.store.release_checkout(record.cart_id, record.id, session)

    async def _in_transaction(self, work: Any) -> None:
        async with self._mongo.start_session() as session:
            await session.with_transaction(work)


def _rejected(message: str | None) -> CartUserError:
    return CartUserError(
        CartErrorCode.ORDER_REJECTED,
        message or "The order was refused by the system of record.",
        ("cartId",),
    )
