"""The app-scoped services: what the wiring (gateway/wiring/build.py) builds in the lifespan
and every request reaches through its context (engine/context.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from commerce.access import CustomerReadGate
from commerce.after_sales.service import AfterSales
from commerce.audit import AuditLog
from commerce.cart.changes import CartChangeFeed
from commerce.cart.merge import CartMerge
from commerce.cart.service import CartService
from commerce.checkout.reconciler import CheckoutReconciler
from commerce.checkout.service import CheckoutService
from commerce.customers.cache import ProfileCache
from commerce.customers.profiles import CustomerProfiles
from commerce.customers.search import CustomerFinder
from commerce.customers.timeline import CustomerTimeline
from commerce.holds.service import StockHolds
from commerce.live.changes import CatalogChanges
from commerce.live.service import LiveCatalog
from commerce.offers import OffersEngine
from commerce.offers.quotes import QuoteSigner
from commerce.offers.referrals import Referrals
from commerce.order_changes import OrderChanges
from commerce.order_follow import OrderFollower
from commerce.order_lookup import OrderLookup
from commerce.orders import OrderHistory
from commerce.recent_catalog import RecentCatalog
from commerce.returns.requests import ReturnRequests
from commerce.returns.service import ReturnService
from commerce.stores import StoreDirectory
from commerce.wishlist.service import WishlistService
from connectors.ports import CrmPort, EcommercePort, InventoryPort, LoyaltyPort, PosPort
from connectors.resilience import UpstreamPolicy
from gateway.auth.authenticator import Authenticator
from gateway.limits.admission import Admission
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.webhooks.deliveries import WebhookDeliveries


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    metrics: Metrics
    # per upstream service the chosen adapters call (gateway/wiring/adapters.py): its
    # breaker's state feeds /readyz's detail, and its base URLs /readyz's `upstreams`
    upstream_policies: Mapping[str, UpstreamPolicy]
    upstream_urls: Mapping[str, tuple[str, ...]]
    mongo: AsyncMongoClient[dict[str, Any]]
    auth: Authenticator
    audit: AuditLog
    # every read of a customer's data: refused or let through, and staff reads audited
    customer_reads: CustomerReadGate
    # the rate limit and persisted queries, before any operation runs (docs/security.md)
    admission: Admission
    ecommerce: EcommercePort
    pos: PosPort
    inventory: InventoryPort
    crm: CrmPort
    # the POS's loyalty API or omnigate's ledger (OMNIGATE_ADAPTERS__LOYALTY)
    loyalty: LoyaltyPort
    stores: StoreDirectory
    profile_cache: ProfileCache
    webhook_deliveries: WebhookDeliveries
    customers: CustomerProfiles
    # staff finding a customer by email, phone, loyalty card or POS id (audited, limited)
    customer_search: CustomerFinder
    orders: OrderHistory
    # a customer's orders, cart, wishlist and loyalty movements in one list (staff, kiosk)
    timeline: CustomerTimeline
    # one order by id or number, owner-only for shoppers, audited for staff
    order_lookup: OrderLookup
    # that an order may have changed, recorded for every pod (webhooks, own writes), and
    # `orderChanged` following one order (docs/orders.md "Following an order")
    order_changes: OrderChanges
    order_follower: OrderFollower
    offers: OffersEngine
    # the products and stock the loaders read lately, per process: what a cart add falls
    # back on while the upstreams fail (docs/cart.md "When prices cannot be read")
    recent_catalog: RecentCatalog
    # pickup carts' quantities held at their stores: what availability is net of
    holds: StockHolds
    quotes: QuoteSigner
    referrals: Referrals
    carts: CartService
    cart_merge: CartMerge
    cart_feed: CartChangeFeed
    # what changed in stock and products, recorded for every pod (webhooks, own writes,
    # the polling fallback), and `stockChanged`/`productChanged` (docs/live.md)
    catalog_changes: CatalogChanges
    live: LiveCatalog
    wishlists: WishlistService
    checkout: CheckoutService
    # finds checkouts nobody finished, at start-up and then on a beat (docs/payments.md)
    checkout_reconciler: CheckoutReconciler
    # returns taken at a store: refund, restock, points back, exactly once (docs/returns.md)
    returns: ReturnService
    # returns customers start from the app, received by staff (docs/returns.md)
    return_requests: ReturnRequests
    # after-sales requests kept in the CRM, exactly once per key (docs/after-sales.md)
    after_sales: AfterSales
