"""The cart's GraphQL types: lines priced now, stock where the cart will be fulfilled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from commerce.cart import errors as cart_errors
from commerce.cart import model as stored_carts
from commerce.cart.pricing import CartPrice, MixedCurrencies
from commerce.holds.model import SkuHolds
from commerce.offers import channel as offer_channel
from commerce.offers.quotes import QuoteLine
from connectors import records
from engine.context import Info
from engine.errors import PublicError
from engine.field_hints import prefetched
from engine.selections import selects
from resolvers.common import Money
from resolvers.products import Product
from resolvers.stores import Store, store_from_record


@strawberry.enum(description="A cart's life: open, frozen while its order is placed, closed.")
class CartStatus(Enum):
    OPEN = "OPEN"
    CHECKING_OUT = "CHECKING_OUT"
    CHECKED_OUT = "CHECKED_OUT"
    MERGED = "MERGED"


@strawberry.enum
class FulfillmentType(Enum):
    DELIVERY = "DELIVERY"
    PICKUP = "PICKUP"


@strawberry.enum(description="Where a cart is priced or checked out; decides the offers.")
class SalesChannel(Enum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    STORE = "STORE"
    KIOSK = "KIOSK"


PricingChannel = Annotated[
    SalesChannel | None,
    strawberry.argument(
        description="The channel to price for, one the caller acts on (WEB or MOBILE online, "
        "KIOSK for a kiosk, STORE for staff; any other is refused with CHANNEL_NOT_ALLOWED); "
        "default: KIOSK for a kiosk, STORE for staff, else WEB (docs/offers.md)."
    ),
]


CartErrorCode = strawberry.enum(
    cart_errors.CartErrorCode,
    name="CartErrorCode",
    description="Why a cart, wishlist or checkout mutation was refused.",
)


@strawberry.type(description="A refusal: the change was not made (or only partly, as said).")
class CartUserError:
    field: list[str] | None = strawberry.field(description="Path to the input at fault.")
    message: str
    code: CartErrorCode  # type: ignore[valid-type]
    reason: str | None = strawberry.field(
        description="A finer reason where the code has several (e.g. a promo refusal)."
    )

    @classmethod
    def from_error(cls, error: cart_errors.CartUserError) -> CartUserError:
        return cls(
            field=list(error.field) if error.field else None,
            message=error.message,
            code=error.code,
            reason=error.reason,
        )


@strawberry.type
class CartLine:
    id: strawberry.ID
    sku: strawberry.ID
    quantity: int
    added_unit_price: Money = strawberry.field(description="The unit price when first added.")
    added_at: datetime
    needs_repricing: bool = strawberry.field(
        description="Added while the price source could not be read, at the price it gave "
        "lately (`addedUnitPrice`): checkout charges today's price, and refuses with "
        "PRICE_CHANGED if it rose past the configured tolerance; cartLinesReprice accepts "
        "today's price (docs/cart.md)."
    )
    location_id: strawberry.Private[str]
    cart_id: strawberry.Private[str]
    added_price: strawberry.Private[records.Money]
    # set by Cart.lines for every line at once (prefetch_lines), so that a cart of 100
    # lines needs no resolver call and no await per line; None: the resolver answers
    prefetched_unit_price: strawberry.Private[Money | None] = None
    prefetched_total: strawberry.Private[Money | None] = None
    prefetched_price_changed: strawberry.Private[bool | None] = None
    prefetched_available: strawberry.Private[int | None] = None
    prefetched_out_of_stock: strawberry.Private[bool | None] = None

    @strawberry.field(description="Null when the product is no longer sold.")
    async def product(self, info: Info) -> Product | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        return Product.from_record(record) if record else None

    @strawberry.field(
        description="Today's unit price; null when the product is no longer sold.",
        metadata=prefetched("prefetched_unit_price"),
    )
    async def unit_price(self, info: Info) -> Money | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        return Money.from_record(record.price) if record else None

    @strawberry.field(
        description="Today's unit price times the quantity.",
        metadata=prefetched("prefetched_total"),
    )
    async def total(self, info: Info) -> Money | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        return self._total(record) if record else None

    @strawberry.field(
        description="Whether today's price differs from the price when added.",
        metadata=prefetched("prefetched_price_changed"),
    )
    async def price_changed(self, info: Info) -> bool | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        if record is None:
            return None
        return record.price != self.added_price

    @strawberry.field(
        description="Units available now where the cart is fulfilled (the online warehouse "
        "for delivery, the store for pickup, less what other carts hold there for pickup; "
        "this cart's own hold is counted as available to it); null if inventory is "
        "unreachable.",
        metadata=prefetched("prefetched_available"),
    )
    async def available_quantity(self, info: Info) -> int | None:
        levels = await info.context.loaders.stock_by_sku.load(self.sku)
        holds = await info.context.loaders.held_by_sku.load(self.sku)
        return self._available(levels, holds)

    @strawberry.field(
        description="True when fewer units are available than this line holds.",
        metadata=prefetched("prefetched_out_of_stock"),
    )
    async def out_of_stock(self, info: Info) -> bool | None:
        available = await self.available_quantity(info)
        return None if available is None else available < self.quantity

    def _total(self, record: records.ProductRecord) -> Money:
        return Money.from_record(
            records.Money(record.price.amount * self.quantity, record.price.currency)
        )

    def _available(self, levels: Sequence[records.StockLevel], holds: SkuHolds) -> int:
        shelf = sum(max(lv.quantity, 0) for lv in levels if lv.location_id == self.location_id)
        return max(shelf - holds.held_at(self.location_id, except_cart=self.cart_id), 0)

    def prefetch_price(self, record: records.ProductRecord | None) -> None:
        if record is not None:
            self.prefetched_unit_price = Money.from_record(record.price)
            self.prefetched_total = self._total(record)
            self.prefetched_price_changed = record.price != self.added_price

    def prefetch_stock(self, levels: Sequence[records.StockLevel], holds: SkuHolds) -> None:
        self.prefetched_available = self._available(levels, holds)
        self.prefetched_out_of_stock = self.prefetched_available < self.quantity


# the line fields each prefetch answers; a query selecting none of them makes no call
_PRICE_FIELDS = ("unitPrice", "total", "priceChanged")
_STOCK_FIELDS = ("availableQuantity", "outOfStock")


async def prefetch_lines(info: Info, lines: Sequence[CartLine]) -> None:
    """Every line's price and stock from one loader call each, as the fields would answer
    them. A failed read leaves the lines as they were: each field then awaits the loader's
    cached failure and reports it at its own path, as without the prefetch."""
    if not lines:
        return
    loaders = info.context.loaders
    skus = [line.sku for line in lines]
    if any(selects(info, name) for name in _PRICE_FIELDS):
        try:
            found = await loaders.product_by_sku.load_many(skus)
        except Exception:  # each field reports it at its own path
            pass
        else:
            for line, record in zip(lines, found, strict=True):
                line.prefetch_price(record)
    if any(selects(info, name) for name in _STOCK_FIELDS):
        try:
            levels = await loaders.stock_by_sku.load_page(skus)
            holds = await loaders.held_by_sku.load_page(skus)
        except Exception:  # each field reports it at its own path
            pass
        else:
            for line, sku_levels, sku_holds in zip(lines, levels, holds, strict=True):
                line.prefetch_stock(sku_levels, sku_holds)


@strawberry.type
class CartFulfillment:
    type: FulfillmentType
    store_id: strawberry.Private[str | None]

    @strawberry.field(description="The pickup store; null for delivery.")
    async def store(self, info: Info) -> Store | None:
        if self.store_id is None:
            return None
        location = await info.context.services.stores.get(self.store_id)
        return store_from_record(location) if location else None


@strawberry.type
class CartPromoCode:
    code: str
    applicable: bool
    reason: str | None = strawberry.field(description="Why it takes nothing off now.")
    discount: Money | None


@strawberry.type(description="A promotion taking something off the cart.")
class CartDiscount:
    promotion_id: strawberry.ID
    title: str
    code: str | None = strawberry.field(description="Null for an automatic promotion.")
    kind: str = strawberry.field(
        description="PERCENTAGE, FIXED_AMOUNT, BUY_X_GET_Y or FREE_SHIPPING."
    )
    amount: Money


@strawberry.type
class CartCost:
    subtotal: Money
    discount: Money
    total: Money
    free_shipping: bool = strawberry.field(description="A promotion ships this cart free.")
    loyalty_points: int = strawberry.field(
        description="Loyalty points spent on this cart on the channel priced for."
    )
    loyalty_discount: Money = strawberry.field(
        description="What those points take off (part of `discount`)."
    )


@strawberry.type(
    description="Loyalty points to spend on a cart, in a checkout on one channel only."
)
class CartLoyaltyPoints:
    points: int
    channel: SalesChannel = strawberry.field(
        description="The channel they were applied on: a checkout on another channel does "
        "not spend them, and cost(channel:) counts them on this one only (docs/offers.md)."
    )


@strawberry.type(
    description="The cart's totals signed by omnigate: pass `token` to checkout(quote:) on "
    "any channel before `expiresAt` and, if the cart is unchanged, exactly this is charged."
)
class CartQuote:
    token: str
    expires_at: datetime
    channel: SalesChannel = strawberry.field(description="The channel it was priced for.")
    subtotal: Money
    discount: Money
    total: Money


@strawberry.type(description="One cart, shared by every device and channel of its owner.")
class Cart:
    id: strawberry.ID
    version: int = strawberry.field(
        description="Grows with every change; pass it as expectedVersion to refuse stale edits."
    )
    status: CartStatus
    created_at: datetime
    updated_at: datetime
    stored: strawberry.Private[stored_carts.StoredCart]
    pricing: strawberry.Private[dict[str, asyncio.Task[CartPrice]]]

    @classmethod
    def from_stored(cls, cart: stored_carts.StoredCart) -> Cart:
        return cls(
            id=strawberry.ID(cart.id),
            version=cart.version,
            status=CartStatus(cart.status.value),
            created_at=cart.created_at,
            updated_at=cart.updated_at,
            stored=cart,
            pricing={},
        )

    @strawberry.field
    async def lines(self, info: Info) -> list[CartLine]:
        location = self._location(info)
        lines = [
            CartLine(
                id=strawberry.ID(line.id),
                sku=strawberry.ID(line.sku),
                quantity=line.quantity,
                added_unit_price=Money.from_record(line.added_unit_price),
                added_at=line.added_at,
                needs_repricing=line.needs_repricing,
                location_id=location,
                cart_id=self.stored.id,
                added_price=line.added_unit_price,
            )
            for line in self.stored.lines
        ]
        await prefetch_lines(info, lines)
        return lines

    @strawberry.field
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.stored.lines)

    @strawberry.field
    def fulfillment(self) -> CartFulfillment:
        return CartFulfillment(
            type=FulfillmentType(self.stored.fulfillment.value),
            store_id=self.stored.pickup_store_id,
        )

    @strawberry.field(description="Points applied to the cart; null when none are.")
    def loyalty_points(self) -> CartLoyaltyPoints | None:
        channel = self.stored.loyalty_channel
        if self.stored.loyalty_points <= 0 or channel is None:
            return None
        return CartLoyaltyPoints(points=self.stored.loyalty_points, channel=SalesChannel(channel))

    @strawberry.field(description="Codes applied, each with what it takes off now.")
    async def promo_codes(self, info: Info, channel: PricingChannel = None) -> list[CartPromoCode]:
        price = await self._price(info, channel)
        currency = price.subtotal.currency
        return [
            CartPromoCode(
                code=o.code,
                applicable=o.applicable,
                reason=o.refusal.value if o.refusal else None,
                discount=Money.from_record(records.Money(o.discount, currency))
                if o.applicable
                else None,
            )
            for o in price.offers
            if o.code is not None
        ]

    @strawberry.field(
        description="Every promotion taking something off now, automatic ones and codes."
    )
    async def discounts(self, info: Info, channel: PricingChannel = None) -> list[CartDiscount]:
        price = await self._price(info, channel)
        return [
            CartDiscount(
                promotion_id=strawberry.ID(o.promotion.id),
                title=o.promotion.title,
                code=o.code,
                kind=o.promotion.kind.value,
                amount=Money.from_record(records.Money(o.discount, price.subtotal.currency)),
            )
            for o in price.offers
            if o.applicable and o.promotion is not None
        ]

    @strawberry.field(description="Totals at today's prices; null if prices are unreachable.")
    async def cost(self, info: Info, channel: PricingChannel = None) -> CartCost | None:
        price = await self._price(info, channel)
        return CartCost(
            subtotal=Money.from_record(price.subtotal),
            discount=Money.from_record(price.discount),
            total=Money.from_record(price.total),
            free_shipping=price.free_shipping,
            loyalty_points=price.loyalty_points,
            loyalty_discount=Money.from_record(
                records.Money(price.loyalty_discount, price.subtotal.currency)
            ),
        )

    @strawberry.field(
        description="A signed quote of cost(channel:), honoured by checkout on every channel."
    )
    async def quote(self, info: Info, channel: PricingChannel = None) -> CartQuote | None:
        price = await self._price(info, channel)
        sales_channel = self._channel(info, channel)
        currency = price.subtotal.currency
        quote, token = info.context.services.quotes.issue(
            cart_id=self.stored.id,
            cart_version=self.stored.version,
            channel=sales_channel.value,
            currency=currency,
            lines=tuple(
                QuoteLine(line.sku, line.quantity, line.unit_price) for line in price.lines
            ),
            promotion_ids=tuple(price.promotion_ids),
            loyalty_points=price.loyalty_points,
            subtotal=price.subtotal.amount,
            discount=price.discount.amount,
        )
        return CartQuote(
            token=token,
            expires_at=quote.expires_at,
            channel=SalesChannel(sales_channel.value),
            subtotal=Money.from_record(price.subtotal),
            discount=Money.from_record(price.discount),
            total=Money.from_record(records.Money(quote.total, currency)),
        )

    def _channel(self, info: Info, channel: SalesChannel | None) -> offer_channel.SalesChannel:
        """The channel asked for, or the principal's; CHANNEL_NOT_ALLOWED (before anything
        is priced) for one the principal may not act on."""
        return offer_channel.permitted_channel(
            info.context.principal,
            offer_channel.SalesChannel(channel.value) if channel is not None else None,
        )

    async def _price(self, info: Info, channel: SalesChannel | None) -> CartPrice:
        try:
            return await self._shared_price(info, channel)
        except MixedCurrencies as exc:
            raise PublicError(
                "The cart's products are priced in different currencies.",
                code="CURRENCY_MISMATCH",
            ) from exc

    async def _shared_price(self, info: Info, channel: SalesChannel | None) -> CartPrice:
        # cost, promoCodes and discounts share one pricing per cart object and channel
        sales_channel = self._channel(info, channel)
        if sales_channel.value not in self.pricing:
            self.pricing[sales_channel.value] = asyncio.ensure_future(
                info.context.services.carts.price(
                    info.context.principal, self.stored, info.context.loaders, sales_channel
                )
            )
        return await self.pricing[sales_channel.value]

    def _location(self, info: Info) -> str:
        return info.context.services.carts.fulfilment_location(self.stored)


def cart_or_none(cart: stored_carts.StoredCart | None) -> Cart | None:
    return Cart.from_stored(cart) if cart else None
