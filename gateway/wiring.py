"""The app-scoped object graph: clients, connectors and services, built in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from connectors.http import UpstreamHttp
from connectors.ports import CrmPort, EcommercePort, InventoryPort, PosPort
from connectors.salesforce import SalesforceCrm
from connectors.shopify import ShopifyEcommerce
from connectors.square import SquareInventory, SquarePos
from gateway.http_transport import GatewayAiohttpTransport, UpstreamClient
from gateway.metrics import Metrics
from gateway.services.customers import CustomerProfiles
from gateway.services.orders import OrderHistory
from gateway.services.stores import StoreDirectory
from gateway.settings import HttpSettings, Settings
from gateway.store import ProfileCache, WebhookDeliveries, connect_mongo, ensure_indexes


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    metrics: Metrics
    mongo: AsyncMongoClient[dict[str, Any]]
    ecommerce: EcommercePort
    pos: PosPort
    inventory: InventoryPort
    crm: CrmPort
    stores: StoreDirectory
    profile_cache: ProfileCache
    webhook_deliveries: WebhookDeliveries
    customers: CustomerProfiles
    orders: OrderHistory


def build_http_client(settings: HttpSettings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds)
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    if settings.transport == "aiohttp":
        transport = GatewayAiohttpTransport(limits=limits, trust_env=False)
        return UpstreamClient(transport=transport, timeout=timeout)
    return UpstreamClient(timeout=timeout, limits=limits)


@asynccontextmanager
async def build_services(
    settings: Settings, metrics: Metrics, http_client: httpx.AsyncClient | None = None
) -> AsyncIterator[Services]:
    """Everything the resolvers reach, closed again on exit. `http_client` lets tests plug a
    transport in (respx, an ASGI app) without patching."""
    client = http_client or build_http_client(settings.http)
    mongo = connect_mongo(settings.mongodb_uri.get_secret_value(), settings.mongodb_timeout_seconds)
    try:
        database = mongo[settings.mongodb_database]
        await ensure_indexes(database)

        def upstream(service: str, base_url: str) -> UpstreamHttp:
            return UpstreamHttp(
                client, service=service, base_url=base_url, observer=metrics.observe_upstream
            )

        profile_cache = ProfileCache(database)
        square = upstream("square", settings.square.base_url)
        pos = SquarePos(square, settings.square)
        ecommerce = ShopifyEcommerce(
            upstream("shopify", settings.shopify.base_url), settings.shopify
        )
        crm = SalesforceCrm(
            upstream("salesforce", settings.salesforce.login_url), settings.salesforce
        )
        yield Services(
            settings=settings,
            metrics=metrics,
            mongo=mongo,
            ecommerce=ecommerce,
            pos=pos,
            inventory=SquareInventory(square, settings.square, catalog=pos.catalog),
            crm=crm,
            stores=StoreDirectory(pos, settings.cache.stores_ttl_seconds),
            profile_cache=profile_cache,
            webhook_deliveries=WebhookDeliveries(database),
            customers=CustomerProfiles(
                crm=crm,
                pos=pos,
                ecommerce=ecommerce,
                cache=profile_cache,
                ttl=timedelta(seconds=settings.cache.profile_ttl_seconds),
                metrics=metrics,
            ),
            orders=OrderHistory(pos=pos, ecommerce=ecommerce),
        )
    finally:
        await mongo.close()
        if http_client is None:
            await client.aclose()
