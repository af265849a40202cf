"""The app-scoped object graph: clients, connectors and services, built in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.access import CustomerReadGate
from commerce.after_sales.service import AfterSales
from commerce.after_sales.store import ClaimStore
from commerce.audit import AuditLog
from commerce.cart.changes import CartChangeFeed
from commerce.cart.merge import CartMerge
from commerce.cart.service import CartService
from commerce.cart.store import CartLimits, CartStore
from commerce.checkout.reconciler import CheckoutReconciler
from commerce.checkout.service import CheckoutService
from commerce.checkout.store import CheckoutStore
from commerce.customers.cache import ProfileCache
from commerce.customers.crm_poll import ContactChangePoller, ContactChanges, poll_holder
from commerce.customers.profiles import CustomerProfiles, ProfileCachePolicy
from commerce.customers.search import CustomerFinder
from commerce.customers.timeline import CustomerTimeline
from commerce.holds.changes import StockChanges
from commerce.holds.service import StockHolds
from commerce.holds.store import HoldStore
from commerce.leases import Leases
from commerce.live.changes import ChangeKind
from commerce.offers.points_ledger import MongoPointsLedger
from commerce.order_changes import OrderChangeFeed, OrderChanges
from commerce.order_follow import OrderFollower
from commerce.order_lookup import OrderLookup
from commerce.orders import OrderHistory
from commerce.recent_catalog import RecentCatalog
from commerce.returns.request_store import RequestStore
from commerce.returns.requests import ReturnRequests
from commerce.returns.service import ReturnService
from commerce.returns.store import ReturnStore
from commerce.stores import StoreDirectory
from commerce.sync_marks import SyncMarks
from commerce.tasks import cancel_and_wait
from commerce.wishlist.service import WishlistService
from commerce.wishlist.store import WishlistStore
from connectors.ports import AfterSalesPort, CrmPort, StockReturns
from connectors.square import SquarePayments
from gateway.auth.authenticator import build_authenticator
from gateway.auth.indexes import ensure_auth_indexes
from gateway.http1_transport import DEFAULT_LIMITS, Http1Transport
from gateway.http_transport import GatewayAiohttpTransport, UpstreamClient
from gateway.http_wire import DEFAULT_MAX_RESPONSE_BYTES
from gateway.httpx_pool_transport import CappedHTTPTransport
from gateway.limits.admission import build_admission
from gateway.limits.search_budget import CustomerSearchBudget
from gateway.metrics import Metrics
from gateway.mongo import connect_mongo, ensure_indexes
from gateway.services import Services
from gateway.settings import TRANSPORT_NAMES, Environment, HttpSettings, Settings
from gateway.telemetry import PropagatingTransport, Tracing, mongo_listeners
from gateway.webhooks.deliveries import WebhookDeliveries
from gateway.wiring.adapters import Upstreams, build_adapters
from gateway.wiring.builtin_adapters import online_location_id
from gateway.wiring.live import LiveKit, build_live
from gateway.wiring.loyalty import choose_loyalty
from gateway.wiring.offers import OffersKit, build_offers
from gateway.wiring.payments import payments_for

log = logging.getLogger(__name__)


# Upstream calls set their own timeouts per attempt (connectors/resilience); this is for
# anything else using the client directly (JWKS fetches).
CLIENT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


def upstream_transport(
    name: str,
    limits: httpx.Limits = DEFAULT_LIMITS,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> httpx.AsyncBaseTransport:
    """The transport `OMNIGATE_HTTP__TRANSPORT` names (TRANSPORT_NAMES), as the gateway
    builds it; the benchmarks and the transport tests build theirs here too."""
    if name == "http1":
        return Http1Transport(limits=limits, max_response_bytes=max_response_bytes)
    if name == "aiohttp":
        return GatewayAiohttpTransport(
            limits=limits, trust_env=False, max_response_bytes=max_response_bytes
        )
    if name == "httpx":
        return CappedHTTPTransport(limits=limits, max_response_bytes=max_response_bytes)
    raise ValueError(f"unknown upstream transport {name!r}: one of {TRANSPORT_NAMES}")


def build_http_client(settings: HttpSettings, tracing: Tracing | None = None) -> httpx.AsyncClient:
    """Every request it sends carries the request id, and with `tracing` is a client span
    whose context goes out as `traceparent` (gateway/telemetry/upstream.py)."""
    timeout = CLIENT_TIMEOUT
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    transport = upstream_transport(settings.transport, limits, settings.max_response_bytes)
    tracer = tracing.tracer("omnigate.upstream") if tracing is not None else None
    return UpstreamClient(transport=PropagatingTransport(transport, tracer), timeout=timeout)


async def ensure_ledger_indexes(ledger: MongoPointsLedger) -> None:
    """Like ensure_indexes: an unreachable MongoDB at start-up is logged, not fatal."""
    try:
        await ledger.ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure loyalty ledger indexes: %s", exc)


async def ensure_cart_indexes(
    carts: CartStore,
    checkouts: CheckoutStore,
    holds: HoldStore,
    returns: ReturnStore,
    requests: RequestStore,
) -> None:
    """Like ensure_indexes: an unreachable MongoDB at start-up is logged, not fatal."""
    try:
        await carts.ensure_indexes()
        await checkouts.ensure_indexes()
        await holds.ensure_indexes()
        await returns.ensure_indexes()
        await requests.ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure cart indexes: %s", exc)


@asynccontextmanager
async def build_services(
    settings: Settings,
    metrics: Metrics,
    http_client: httpx.AsyncClient | None = None,
    tracing: Tracing | None = None,
    stock_changes: StockChanges | None = None,
) -> AsyncIterator[Services]:
    """Everything the resolvers reach, closed again on exit. `http_client` lets tests plug a
    transport in (respx, an ASGI app) without patching; `tracing` traces the upstream
    client built here and the MongoDB client; `stock_changes` hears every change of held
    stock (commerce/holds/changes.py; none by default)."""
    client = http_client or build_http_client(settings.http, tracing)
    mongo = connect_mongo(
        settings.mongodb_uri.get_secret_value(),
        settings.mongodb_timeout_seconds,
        event_listeners=mongo_listeners(tracing),
    )
    cart_feed: CartChangeFeed | None = None
    order_feed: OrderChangeFeed | None = None
    live: LiveKit | None = None
    offers_kit: OffersKit | None = None
    customers: CustomerProfiles | None = None
    crm_poll: tuple[ContactChangePoller, asyncio.Task[None]] | None = None
    reconciler: CheckoutReconciler | None = None
    reconciler_task: asyncio.Task[None] | None = None
    try:
        database = mongo[settings.mongodb_database]
        await ensure_indexes(database)

        # the gateway's own client is sent through directly; a client a test plugs in
        # keeps its full request path (respx and MockTransport see every call either way)
        direct = client.upstream_transport if isinstance(client, UpstreamClient) else None
        # the adapters OMNIGATE_ADAPTERS__* choose, and a resilience policy for each
        # service they call (gateway/wiring/adapters.py)
        upstreams = Upstreams(client, settings.upstreams, metrics, transport=direct)
        adapters = build_adapters(settings, upstreams)
        pos, ecommerce, crm = adapters.pos, adapters.ecommerce, adapters.crm
        # after-sales requests live in the CRM (Salesforce Cases, HubSpot tickets); with a
        # CRM adapter that keeps none they answer UNSUPPORTED (docs/after-sales.md)
        after_sales_crm = crm if isinstance(crm, AfterSalesPort) else None
        # the POS's loyalty API, or omnigate's ledger where it has none
        loyalty = choose_loyalty(settings.adapters.loyalty, pos, mongo, database)
        if isinstance(loyalty, MongoPointsLedger):
            await ensure_ledger_indexes(loyalty)
        # online card payments go through Square's Payments API (docs/payments.md)
        # (a store order's payment at the terminal: the POS's word where it has one)
        payments = payments_for(
            SquarePayments(upstreams("square", settings.square.base_url), settings.square), pos
        )

        profile_cache = ProfileCache(database)
        stores = StoreDirectory(pos, settings.cache.stores_ttl_seconds)
        customers = CustomerProfiles(
            crm=crm,
            pos=pos,
            loyalty=loyalty,
            ecommerce=ecommerce,
            cache=profile_cache,
            policy=profile_cache_policy(settings),
            metrics=metrics,
        )
        cart = settings.cart
        cart_store = CartStore(
            database,
            CartLimits(max_lines=cart.max_lines, max_quantity=cart.max_quantity_per_line),
            guest_ttl=timedelta(days=cart.guest_cart_ttl_days),
        )
        checkout_store = CheckoutStore(database, timedelta(days=cart.checkout_retention_days))
        hold_store = HoldStore(database, timedelta(seconds=cart.pickup_hold_seconds))
        return_store = ReturnStore(database, mongo)
        request_store = RequestStore(database, mongo)
        await ensure_cart_indexes(
            cart_store, checkout_store, hold_store, return_store, request_store
        )
        recent_catalog = RecentCatalog(
            ttl_seconds=settings.cache.recent_catalog_ttl_seconds,
            max_skus=settings.cache.recent_catalog_max_skus,
            lookups=metrics,
        )
        live = await build_live(
            settings,
            database,
            inventory=adapters.inventory,
            ecommerce=ecommerce,
            stores=stores,
            recent_catalog=recent_catalog,
            observer=metrics,
        )
        # a hold taken, moved or released changes what everyone else sees: live stock
        # subscribers hear of it (docs/live.md)
        holds = StockHolds(
            hold_store,
            mongo,
            stock_changes or live.changes,
            shown_for_seconds=cart.shown_holds_seconds,
        )
        # another pod's hold change reaches this pod's pages as soon as its feed hears it
        live.catalog.feed.add_listener(
            lambda kind, skus: holds.forget_shown(skus) if kind is ChangeKind.STOCK else None
        )
        kit = build_offers(
            settings,
            database,
            customers=customers,
            pos=pos,
            loyalty=loyalty,
            ecommerce=ecommerce,
            profile_cache=profile_cache,
            carts=cart_store.collection,
            client=client,
        )
        await kit.ensure_indexes()
        offers_kit = kit
        auth = build_authenticator(settings.auth, client, database)
        audit = AuditLog(database)
        await ensure_auth_indexes(auth, audit)
        admission = await build_admission(settings, database, metrics)
        wishlist_store = WishlistStore(database, cart.max_wishlist_items)
        search_budget = CustomerSearchBudget(
            database, settings.rate_limits.customer_search, metrics
        )
        try:
            await search_budget.ensure_indexes()
        except PyMongoError as exc:
            log.warning("could not ensure the customer search budget's index: %s", exc)
        carts = CartService(
            cart_store,
            kit.engine,
            stores,
            audit,
            recent_catalog,
            holds,
            online_location_id=online_location_id(settings, adapters.inventory),
            max_quantity=cart.max_quantity_per_line,
            default_currency=cart.default_currency,
            reprice_tolerance_percent=cart.reprice_tolerance_percent,
        )
        order_changes = OrderChanges(
            database, timedelta(seconds=settings.live.change_retention_seconds)
        )
        try:
            await order_changes.ensure_indexes()
        except PyMongoError as exc:
            log.warning("could not ensure the order change index: %s", exc)
        order_feed = OrderChangeFeed(
            order_changes.collection,
            await_seconds=min(1.0, settings.mongodb_timeout_seconds / 2),
        )
        # each read of the stream waits at most half the MongoDB timeout for a change
        cart_feed = CartChangeFeed(
            cart_store.collection, await_seconds=min(1.0, settings.mongodb_timeout_seconds / 2)
        )
        crm_poll = start_crm_poll(settings, crm, profile_cache, database)
        checkout = CheckoutService(
            carts=carts,
            checkouts=checkout_store,
            offers=kit.engine,
            redemptions=kit.redemptions,
            quotes=kit.quotes,
            loyalty=kit.loyalty,
            referrals=kit.referrals,
            outbox=kit.outbox,
            customers=customers,
            ecommerce=ecommerce,
            pos=pos,
            payments=payments,
            mongo=mongo,
            default_currency=cart.default_currency,
            stock_changes=live.changes,
            order_changes=order_changes,
        )
        stock = adapters.inventory
        returns = ReturnService(
            returns=return_store,
            checkouts=checkout_store,
            pos=pos,
            loyalty=loyalty,
            ecommerce=ecommerce,
            payments=payments,
            # an inventory that cannot take units back leaves returned goods uncounted
            stock=stock if isinstance(stock, StockReturns) else None,
            offers=kit.engine,
            points_per_currency_unit=settings.offers.points_per_currency_unit,
            audit=audit,
            stock_changes=live.changes,
            order_changes=order_changes,
        )
        return_requests = ReturnRequests(
            requests=request_store,
            returns=return_store,
            service=returns,
            customers=customers,
            pos=pos,
            ecommerce=ecommerce,
            expiry=timedelta(days=settings.returns.request_expiry_days),
        )
        reconciler = CheckoutReconciler(
            checkout,
            checkout_store,
            grace=timedelta(seconds=cart.reconcile_grace_seconds),
            interval_seconds=cart.reconcile_interval_seconds,
            # returns a crash stopped; return requests past their expiry
            also=(returns, return_requests),
        )
        reconciler_task = asyncio.create_task(reconciler.run(), name="checkout-reconciler")
        order_lookup = OrderLookup(pos=pos, ecommerce=ecommerce, audit=audit)
        kit.dispatcher.start()
        yield Services(
            settings=settings,
            metrics=metrics,
            upstream_policies=upstreams.policies,
            upstream_urls=upstreams.base_urls,
            mongo=mongo,
            auth=auth,
            audit=audit,
            customer_reads=CustomerReadGate(audit),
            admission=admission,
            ecommerce=ecommerce,
            pos=pos,
            inventory=adapters.inventory,
            crm=crm,
            loyalty=loyalty,
            stores=stores,
            profile_cache=profile_cache,
            webhook_deliveries=WebhookDeliveries(database),
            customers=customers,
            customer_search=CustomerFinder(crm=crm, pos=pos, audit=audit, budget=search_budget),
            orders=OrderHistory(pos=pos, ecommerce=ecommerce),
            timeline=CustomerTimeline(
                pos=pos,
                ecommerce=ecommerce,
                carts=cart_store,
                wishlists=wishlist_store,
                after_sales=after_sales_crm,
            ),
            order_lookup=order_lookup,
            order_changes=order_changes,
            order_follower=OrderFollower(
                order_lookup,
                order_feed,
                poll_seconds=settings.live.order_poll_interval_seconds or None,
            ),
            offers=kit.engine,
            recent_catalog=recent_catalog,
            holds=holds,
            quotes=kit.quotes,
            referrals=kit.referrals,
            carts=carts,
            cart_merge=CartMerge(
                cart_store,
                mongo,
                default_policy=cart.merge_policy,
                max_lines=cart.max_lines,
                max_quantity=cart.max_quantity_per_line,
                holds=holds,
            ),
            cart_feed=cart_feed,
            catalog_changes=live.changes,
            live=live.catalog,
            wishlists=WishlistService(wishlist_store, carts, mongo),
            checkout=checkout,
            checkout_reconciler=reconciler,
            returns=returns,
            return_requests=return_requests,
            after_sales=AfterSales(
                crm=after_sales_crm,
                claims=ClaimStore(database),
                customers=customers,
                pos=pos,
                ecommerce=ecommerce,
                audit=audit,
            ),
        )
    finally:
        if reconciler is not None and reconciler_task is not None:
            await reconciler.stop(reconciler_task)
        if offers_kit is not None:
            await offers_kit.dispatcher.stop()
        if crm_poll is not None:
            await stop_crm_poll(*crm_poll)
        if customers is not None:
            await customers.close()
        if cart_feed is not None:
            await cart_feed.close()
        if order_feed is not None:
            await order_feed.close()
        if live is not None:
            await live.close()
        await mongo.close()
        if http_client is None:
            await client.aclose()


def profile_cache_policy(settings: Settings) -> ProfileCachePolicy:
    cache = settings.cache
    return ProfileCachePolicy(
        soft_ttl=timedelta(seconds=cache.profile_ttl_seconds),
        hard_ttl=timedelta(seconds=cache.profile_hard_ttl_seconds),
        refresh_lease=timedelta(seconds=cache.profile_refresh_lease_seconds),
        refresh_retry=timedelta(seconds=cache.profile_refresh_retry_seconds),
        refresh_deadline_seconds=settings.request_deadline_seconds,
        cache_retry_seconds=cache.profile_cache_retry_seconds,
    )


def start_crm_poll(
    settings: Settings,
    crm: CrmPort,
    cache: ProfileCache,
    database: AsyncDatabase[dict[str, Any]],
) -> tuple[ContactChangePoller, asyncio.Task[None]] | None:
    """The CRM change poll as a background task (docs/customer-profile.md), unless switched
    off (by default in the test environment) or the CRM adapter has no change feed."""
    enabled = settings.cache.crm_poll
    if enabled is False or (enabled is None and settings.env is Environment.TEST):
        return None
    if not isinstance(crm, ContactChanges):
        log.info("no CRM change poll: the %r CRM adapter has no change feed", crm.service)
        return None
    poller = ContactChangePoller(
        crm=crm,
        cache=cache,
        leases=Leases(database),
        marks=SyncMarks(database),
        holder=poll_holder(),
        interval_seconds=settings.cache.crm_poll_interval_seconds,
        lag=timedelta(seconds=settings.cache.crm_poll_lag_seconds),
        first_lookback=timedelta(seconds=settings.cache.profile_hard_ttl_seconds),
    )
    return poller, asyncio.create_task(poller.run(), name="crm-contact-poll")


async def stop_crm_poll(poller: ContactChangePoller, task: asyncio.Task[None]) -> None:
    await cancel_and_wait([task])
    await poller.release()
