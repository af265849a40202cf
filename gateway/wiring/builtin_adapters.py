"""omnigate's own adapters: the factories its entry points name (pyproject.toml
`[project.entry-points."omnigate.adapters.<port>"]`, BUILTIN in gateway/wiring/adapters.py).

Each is an AdapterFactory: it asks `context.upstream` for its vendor's service, which names
the resilience policy (`OMNIGATE_UPSTREAMS__SQUARE__*`, ...) and the metrics' `service`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.hubspot import HubSpotCrm
from connectors.ports import CrmPort, EcommercePort, InventoryPort, PosPort
from connectors.salesforce import SalesforceCrm
from connectors.shopify import ShopifyEcommerce
from connectors.square import SquareInventory, SquarePos
from gateway.wiring.adapters import AdapterContext, AdapterFactory


def square_pos(context: AdapterContext) -> SquarePos:
    square = context.settings.square
    return SquarePos(context.upstream("square", square.base_url), square)


def square_inventory(context: AdapterContext) -> SquareInventory:
    """With the Square POS as the POS adapter, one SKU <-> variation id mapping (and one
    Square UpstreamHttp) serves both stock reads and order lines."""
    square = context.settings.square
    catalog = context.pos.catalog if isinstance(context.pos, SquarePos) else None
    return SquareInventory(context.upstream("square", square.base_url), square, catalog=catalog)


def shopify_ecommerce(context: AdapterContext) -> ShopifyEcommerce:
    shopify = context.settings.shopify
    return ShopifyEcommerce(context.upstream("shopify", shopify.base_url), shopify)


def salesforce_crm(context: AdapterContext) -> SalesforceCrm:
    salesforce = context.settings.salesforce
    return SalesforceCrm(context.upstream("salesforce", salesforce.login_url), salesforce)


def hubspot_crm(context: AdapterContext) -> HubSpotCrm:
    hubspot = context.settings.hubspot
    return HubSpotCrm(context.upstream("hubspot", hubspot.base_url), hubspot)


if TYPE_CHECKING:  # each is an AdapterFactory of its port
    _pos: AdapterFactory[PosPort] = square_pos
    _inventory: AdapterFactory[InventoryPort] = square_inventory
    _ecommerce: AdapterFactory[EcommercePort] = shopify_ecommerce
    _crm: AdapterFactory[CrmPort] = salesforce_crm
    _hubspot: AdapterFactory[CrmPort] = hubspot_crm
