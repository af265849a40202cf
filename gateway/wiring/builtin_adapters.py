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
from connectors.shopify import ShopifyEcommerce, ShopifyInventory, ShopifyPos
from connectors.square import SquareInventory, SquarePos
from gateway.settings import Settings
from gateway.wiring.adapters import AdapterContext, AdapterFactory


class StoreIdsMismatch(ValueError):
    """The inventory counts stock by one vendor's location ids and the POS names stores by
    another's: no store would ever show stock. Refused at start-up."""


def square_pos(context: AdapterContext) -> SquarePos:
    square = context.settings.square
    return SquarePos(context.upstream("square", square.base_url), square)


def square_inventory(context: AdapterContext) -> SquareInventory:
    """With the Square POS as the POS adapter, one SKU <-> variation id mapping (and one
    Square UpstreamHttp) serves both stock reads and order lines."""
    if isinstance(context.pos, ShopifyPos):
        raise StoreIdsMismatch(
            "Square inventory counts stock at Square location ids, and the Shopify POS names "
            "stores by Shopify Location ids; set OMNIGATE_ADAPTERS__INVENTORY=shopify"
        )
    square = context.settings.square
    catalog = context.pos.catalog if isinstance(context.pos, SquarePos) else None
    return SquareInventory(context.upstream("square", square.base_url), square, catalog=catalog)


def shopify_ecommerce(context: AdapterContext) -> ShopifyEcommerce:
    shopify = context.settings.shopify
    return ShopifyEcommerce(context.upstream("shopify", shopify.base_url), shopify)


def shopify_pos(context: AdapterContext) -> ShopifyPos:
    shopify = context.settings.shopify
    return ShopifyPos(context.upstream("shopify", shopify.base_url), shopify)


def shopify_inventory(context: AdapterContext) -> ShopifyInventory:
    """Stock at Shopify Locations: only the Shopify POS names its stores by them."""
    if not isinstance(context.pos, ShopifyPos):
        raise StoreIdsMismatch(
            "Shopify inventory counts stock at Shopify Location ids, which only the Shopify "
            "POS names its stores by; set OMNIGATE_ADAPTERS__POS=shopify"
        )
    shopify = context.settings.shopify
    return ShopifyInventory(context.upstream("shopify", shopify.base_url), shopify)


def online_location_id(settings: Settings, inventory: object) -> str:
    """The location whose stock an online cart is counted against, in the inventory's ids."""
    if isinstance(inventory, ShopifyInventory):
        return inventory.online_location_id
    return settings.square.online_location_id


def salesforce_crm(context: AdapterContext) -> SalesforceCrm:
    salesforce = context.settings.salesforce
    return SalesforceCrm(context.upstream("salesforce", salesforce.login_url), salesforce)


def hubspot_crm(context: AdapterContext) -> HubSpotCrm:
    hubspot = context.settings.hubspot
    return HubSpotCrm(context.upstream("hubspot", hubspot.base_url), hubspot)


if TYPE_CHECKING:  # each is an AdapterFactory of its port
    _pos: AdapterFactory[PosPort] = square_pos
    _inventory: AdapterFactory[InventoryPort] = square_inventory
    _shopify_pos: AdapterFactory[PosPort] = shopify_pos
    _shopify_inventory: AdapterFactory[InventoryPort] = shopify_inventory
    _ecommerce: AdapterFactory[EcommercePort] = shopify_ecommerce
    _crm: AdapterFactory[CrmPort] = salesforce_crm
    _hubspot: AdapterFactory[CrmPort] = hubspot_crm
