"""The omnichannel cart: what a cart is (model), its MongoDB store, the service every
change goes through, pricing, the guest-cart merge and the change feed."""
