"""The offers engine: promotion rules, their conditions and stacking, redemptions counted
once at checkout (docs/offers.md)."""

from gateway.offers.channel import SalesChannel, default_channel, pricing_store
from gateway.offers.conditions import REFUSAL_MESSAGES, OfferRefusal, PricedLine
from gateway.offers.engine import OffersEngine
from gateway.offers.promotions import PromotionStore
from gateway.offers.redemptions import RedemptionRefused, Redemptions
from gateway.offers.rules import Conditions, Limits, OfferKind, Promotion, Stacking, normalise_code
from gateway.offers.stacking import OfferOutcome

__all__ = [
    "REFUSAL_MESSAGES",
    "Conditions",
    "Limits",
    "OfferKind",
    "OfferOutcome",
    "OfferRefusal",
    "OffersEngine",
    "PricedLine",
    "Promotion",
    "PromotionStore",
    "RedemptionRefused",
    "Redemptions",
    "SalesChannel",
    "Stacking",
    "default_channel",
    "normalise_code",
    "pricing_store",
]
