"""Square's check: ListLocations, which every POS read starts from and which needs only
MERCHANT_PROFILE_READ, and the online fulfilment location among the seller's."""

from __future__ import annotations

from connectors.check import CheckFailed, call_failed
from connectors.errors import UpstreamError
from connectors.http import UpstreamHttp
from connectors.square.client import SquareClient
from connectors.square.settings import SquareSettings

# What the adapter calls (docs/vendors/square.md): locations, catalog, inventory (read, and
# returned units put back), customers, orders (read and create), loyalty (read, accumulate,
# adjust), payments (taken, completed, cancelled, read, refunded).
PERMISSIONS = (
    "MERCHANT_PROFILE_READ ITEMS_READ INVENTORY_READ INVENTORY_WRITE CUSTOMERS_READ "
    "ORDERS_READ ORDERS_WRITE LOYALTY_READ LOYALTY_WRITE PAYMENTS_READ PAYMENTS_WRITE"
)
_SHOWN = 5


async def check_square(http: UpstreamHttp, settings: SquareSettings) -> str:
    client = SquareClient(http, settings)
    try:
        payload = await client.call("square.check", "GET", "/v2/locations", idempotent=True)
    except UpstreamError as error:
        raise call_failed(
            error,
            url_field="base_url",
            credentials=("access_token",),
            permissions=PERMISSIONS,
        ) from error
    locations = [loc for loc in payload.get("locations") or [] if isinstance(loc, dict)]
    names = {str(loc.get("id")): str(loc.get("name", "")) for loc in locations}
    online = settings.online_location_id
    if online not in names:
        listed = ", ".join(sorted(names)[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
        raise CheckFailed(
            f"the online location {online!r} is not one of the seller's {len(names)} "
            f"locations ({listed or 'none'})",
            ("online_location_id",),
        )
    return f"{len(names)} locations, the online location {online} ({names[online]}) among them"
