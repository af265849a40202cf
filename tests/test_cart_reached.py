"""commerce/cart/reached.py: which carts an add may write without reading first."""

from __future__ import annotations

from commerce.cart.reached import ReachedCarts
from commerce.principal import Principal, PrincipalKind


def customer(subject: str) -> Principal:
    return Principal(PrincipalKind.CUSTOMER, subject)


def test_a_cart_is_known_to_the_principal_that_reached_it_only():
    reached = ReachedCarts()
    reached.remember(customer("c1"), "cart_1")
    assert reached.knows(customer("c1"), "cart_1")
    assert not reached.knows(customer("c2"), "cart_1")
    assert not reached.knows(Principal(cart_token="t"), "cart_1")
    reached.forget(customer("c1"), "cart_1")
    assert not reached.knows(customer("c1"), "cart_1")


def test_past_its_bound_the_oldest_entry_goes():
    reached = ReachedCarts(max_entries=2)
    for cart in ("cart_1", "cart_2", "cart_3"):
        reached.remember(customer("c1"), cart)
    assert len(reached) == 2
    assert not reached.knows(customer("c1"), "cart_1")
    assert reached.knows(customer("c1"), "cart_2")
    assert reached.knows(customer("c1"), "cart_3")
