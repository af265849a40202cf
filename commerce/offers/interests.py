"""What a signed-in shopper is interested in, for the offers picked for them
(commerce/offers/personal.py): what they bought on any channel, what they want."""

from __future__ import annotations

from typing import TYPE_CHECKING

from commerce.offers.personal import CustomerInterests
from commerce.principal import Principal

if TYPE_CHECKING:
    from commerce.cart.service import CartService
    from commerce.customers.profiles import CustomerProfiles
    from commerce.orders import OrderHistory
    from commerce.wishlist.service import WishlistService

# how many recent orders, every channel, say what the shopper buys
RECENT_ORDERS = 50


async def interests_of(
    principal: Principal,
    customer_id: str,
    *,
    wishlists: WishlistService,
    carts: CartService,
    customers: CustomerProfiles,
    orders: OrderHistory,
) -> CustomerInterests:
    wanted: set[str] = set()
    wishlist = await wishlists.get(principal)
    if wishlist is not None:
        wanted.update(item.sku for item in wishlist.items)
    cart = await carts.store.active_for_customer(customer_id)
    if cart is not None:
        wanted.update(line.sku for line in cart.lines)
    bought: set[str] = set()
    read = await customers.one(customer_id)
    if read is not None:
        page = await orders.page(read.profile, RECENT_ORDERS, None)
        bought = {line.sku for order in page.orders for line in order.lines if line.sku}
    return CustomerInterests(frozenset(bought), frozenset(wanted))
