"""Checkout: the order placed upstream exactly once per idempotency key (service), and the
checkout records that make a retried or crashed checkout resume (store)."""
