"""The cart's GraphQL types: lines priced now, stock where the cart will be fulfilled."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum

import strawberry

from connectors import records
from gateway.context import Info
from gateway.errors import PublicError
from gateway.services import cart_errors
from gateway.services.cart_pricing import CartPrice, MixedCurrencies, price_cart
from gateway.store import carts as stored_carts
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
    location_id: strawberry.Private[str]
    added_price: strawberry.Private[records.Money]

    @strawberry.field(description="Null when the product is no longer sold.")
    async def product(self, info: Info) -> Product | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        return Product.from_record(record) if record else None

    @strawberry.field(description="Today's unit price; null when the product is no longer sold.")
    async def unit_price(self, info: Info) -> Money | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        return Money.from_record(record.price) if record else None

    @strawberry.field(description="Today's unit price times the quantity.")
    async def total(self, info: Info) -> Money | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        if record is None:
            return None
        return Money.from_record(
            records.Money(record.price.amount * self.quantity, record.price.currency)
        )

    @strawberry.field(description="Whether today's price differs from the price when added.")
    async def price_changed(self, info: Info) -> bool | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        if record is None:
            return None
        return record.price != self.added_price

    @strawberry.field(
        description="Units available now where the cart is fulfilled (the online warehouse "
        "for delivery, the store for pickup); null if inventory is unreachable."
    )
    async def available_quantity(self, info: Info) -> int | None:
        levels = await info.context.loaders.stock_by_sku.load(self.sku)
        return sum(max(lv.quantity, 0) for lv in levels if lv.location_id == self.location_id)

    @strawberry.field(description="True when fewer units are available than this line holds.")
    async def out_of_stock(self, info: Info) -> bool | None:
        available = await self.available_quantity(info)
        return None if available is None else available < self.quantity


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


@strawberry.type
class CartCost:
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
    def lines(self, info: Info) -> list[CartLine]:
        location = self._location(info)
        return [
            CartLine(
                id=strawberry.ID(line.id),
                sku=strawberry.ID(line.sku),
                quantity=line.quantity,
                added_unit_price=Money.from_record(line.added_unit_price),
                added_at=line.added_at,
                location_id=location,
                added_price=line.added_unit_price,
            )
            for line in self.stored.lines
        ]

    @strawberry.field
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.stored.lines)

    @strawberry.field
    def fulfillment(self) -> CartFulfillment:
        return CartFulfillment(
            type=FulfillmentType(self.stored.fulfillment.value),
            store_id=self.stored.pickup_store_id,
        )

    @strawberry.field(description="Codes applied, each with what it takes off now.")
    async def promo_codes(self, info: Info) -> list[CartPromoCode]:
        price = await self._price(info)
        return [
            CartPromoCode(
                code=o.code,
                applicable=o.applicable,
                reason=o.refusal.value if o.refusal else None,
                discount=Money.from_record(o.discount) if o.discount else None,
            )
            for o in price.promotions
        ]

    @strawberry.field(description="Totals at today's prices; null if prices are unreachable.")
    async def cost(self, info: Info) -> CartCost | None:
        price = await self._price(info)
        return CartCost(
            subtotal=Money.from_record(price.subtotal),
            discount=Money.from_record(price.discount),
            total=Money.from_record(price.total),
        )

    async def _price(self, info: Info) -> CartPrice:
        try:
            return await self._shared_price(info)
        except MixedCurrencies as exc:
            raise PublicError(
                "The cart's products are priced in different currencies.",
                code="CURRENCY_MISMATCH",
            ) from exc

    async def _shared_price(self, info: Info) -> CartPrice:
        # cost and promoCodes share one pricing per cart object
        if "price" not in self.pricing:
            services = info.context.services
            self.pricing["price"] = asyncio.ensure_future(
                price_cart(
                    self.stored,
                    info.context.loaders,
                    services.promo_codes,
                    services.settings.cart.default_currency,
                )
            )
        return await self.pricing["price"]

    def _location(self, info: Info) -> str:
        if (
            self.stored.fulfillment is stored_carts.FulfillmentType.PICKUP
            and self.stored.pickup_store_id
        ):
            return self.stored.pickup_store_id
        return info.context.services.settings.square.online_location_id


def cart_or_none(cart: stored_carts.StoredCart | None) -> Cart | None:
    return Cart.from_stored(cart) if cart else None
