"""Shopify's check: the shop and the access scopes granted to the app's token, in one
query that costs 2 points, against the scopes the adapter's documents need."""

from __future__ import annotations

from typing import Any

from connectors.check import CheckFailed, call_failed
from connectors.errors import UpstreamError
from connectors.http import UpstreamHttp
from connectors.shopify.graphql import ShopifyGraphql
from connectors.shopify.settings import ShopifySettings

CHECK = """
query OmnigateCheck {
  shop { name myshopifyDomain currencyCode }
  currentAppInstallation { accessScopes { handle } }
}
"""
# productVariants and products; customers; orders and orderByIdentifier; orderCreate
NEEDED_SCOPES = ("read_products", "read_customers", "read_orders", "write_orders")
# With Shopify as POS or inventory too: locations; inventory items and levels, read and
# returned units added; the staff member of a POS order (StaffMember needs read_users)
RETAIL_SCOPES = ("read_locations", "write_inventory", "read_users")
# without it Shopify answers orders of the last 60 days only
ALL_ORDERS = "read_all_orders"


async def check_shopify(
    http: UpstreamHttp, settings: ShopifySettings, *, retail: bool = False
) -> str:
    """`retail`: Shopify serves the POS or the inventory port as well."""
    needed = NEEDED_SCOPES + (RETAIL_SCOPES if retail else ())
    try:
        data = await ShopifyGraphql(http, settings).query(
            "shopify.check", CHECK, {}, idempotent=True
        )
    except UpstreamError as error:
        raise call_failed(
            error,
            url_field="base_url",
            credentials=("access_token",),
            permissions=", ".join(needed),
            not_found=("api_version",),  # the version is in the path
        ) from error
    granted = _granted(data)
    missing = [scope for scope in needed if not _has(granted, scope)]
    if missing:
        raise CheckFailed(
            f"the app's token lacks the access scopes {', '.join(missing)} "
            f"(granted: {', '.join(sorted(granted)) or 'none'})",
            ("access_token",),
        )
    shop = data.get("shop") or {}
    seen = (
        f"shop {shop.get('myshopifyDomain')} ({shop.get('currencyCode')}), "
        f"scopes {', '.join(needed)} granted"
    )
    if ALL_ORDERS not in granted:
        seen += f"; without {ALL_ORDERS}, order history reaches back 60 days only"
    return seen


def _granted(data: dict[str, Any]) -> set[str]:
    installation = data.get("currentAppInstallation") or {}
    scopes = installation.get("accessScopes") or []
    return {str(s["handle"]) for s in scopes if isinstance(s, dict) and "handle" in s}


def _has(granted: set[str], scope: str) -> bool:
    # a write scope grants the read of the same resource
    return scope in granted or (
        scope.startswith("read_") and "write_" + scope.removeprefix("read_") in granted
    )
