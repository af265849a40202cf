"""MongoDB dates as UTC datetimes, however the collection decodes them."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    """MongoDB stores every date in UTC; a collection read with `tz_aware=False` (the cart
    store's, commerce/cart/store.py) hands it back naive, the client's default aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
