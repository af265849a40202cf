"""Returns anywhere: staff at any store take back lines of an online or in-store order,
refunded to the original payment, restocked at their store, points taken back, exactly once
per idempotency key; a customer starts one from the app, its units held until staff receive
it (docs/returns.md)."""
