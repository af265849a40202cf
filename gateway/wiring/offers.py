"""The offers engine's parts, built once per app from settings (called by gateway/wiring)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.customers.cache import ProfileCache
from commerce.customers.profiles import CustomerProfiles
from commerce.offers.abandoned import AbandonedCarts
from commerce.offers.engine import OffersEngine
from commerce.offers.history import PurchaseHistory
from commerce.offers.loyalty import LoyaltyLedger
from commerce.offers.outbox import Outbox
from commerce.offers.promotions import PromotionStore
from commerce.offers.quotes import QuoteSigner
from commerce.offers.redemptions import Redemptions
from commerce.offers.referrals import Referrals
from commerce.orders import OrderHistory
from connectors.ports import EcommercePort, LoyaltyPort, PosPort
from gateway.outbox_dispatcher import Dispatcher, DispatchSettings

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OffersKit:
    promotions: PromotionStore
    history: PurchaseHistory
    redemptions: Redemptions
    engine: OffersEngine
    loyalty: LoyaltyLedger
    referrals: Referrals
    quotes: QuoteSigner
    outbox: Outbox
    dispatcher: Dispatcher

    async def ensure_indexes(self) -> None:
        """Like the other stores: an unreachable MongoDB at start-up is logged, not fatal."""
        try:
            await self.promotions.ensure_indexes()
            await self.redemptions.ensure_indexes()
            await self.history.ensure_indexes()
            await self.outbox.ensure_indexes()
        except PyMongoError as exc:
            log.warning("could not ensure offers indexes: %s", exc)


def build_offers(
    settings: Settings,
    database: AsyncDatabase[dict[str, Any]],
    *,
    customers: CustomerProfiles,
    pos: PosPort,
    loyalty: LoyaltyPort,
    ecommerce: EcommercePort,
    profile_cache: ProfileCache,
    carts: AsyncCollection[dict[str, Any]],
    client: httpx.AsyncClient,
) -> OffersKit:
    offers = settings.offers
    promotions = PromotionStore(database)
    outbox = Outbox(database)
    history = PurchaseHistory(database, customers, OrderHistory(pos=pos, ecommerce=ecommerce))
    abandoned = AbandonedCarts(
        database,
        carts,
        outbox,
        promotions,
        idle=timedelta(seconds=offers.cart_abandoned_after_seconds),
        offer_percent=offers.abandoned_offer_percent,
        offer_valid=timedelta(hours=offers.abandoned_offer_valid_hours),
    )
    return OffersKit(
        promotions=promotions,
        history=history,
        redemptions=Redemptions(database, promotions),
        engine=OffersEngine(promotions, customers, history, offers.point_value),
        loyalty=LoyaltyLedger(
            loyalty,
            profile_cache,
            outbox,
            points_per_currency_unit=offers.points_per_currency_unit,
            online_location_id=settings.square.online_location_id,
        ),
        referrals=Referrals(
            promotions,
            friend_percent=offers.referral_friend_percent,
            reward_amount=offers.referral_reward_amount,
        ),
        quotes=QuoteSigner(offers.quote_secret.get_secret_value(), offers.quote_ttl_seconds),
        outbox=outbox,
        dispatcher=Dispatcher(
            outbox,
            abandoned,
            client,
            DispatchSettings(
                urls=tuple(offers.webhook_urls),
                secret=offers.webhook_secret.get_secret_value(),
                timeout_seconds=offers.webhook_timeout_seconds,
                max_attempts=offers.webhook_max_attempts,
                backoff_seconds=offers.webhook_backoff_seconds,
                interval_seconds=offers.dispatch_interval_seconds,
            ),
        ),
    )
