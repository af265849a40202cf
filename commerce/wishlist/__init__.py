"""A customer's wishlist: what it is (model), its MongoDB store, and the service that adds,
removes and moves items to the cart."""
