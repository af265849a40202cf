"""The offers engine: promotion rules, their conditions and stacking, redemptions counted
once at checkout (docs/offers.md)."""

from gateway.offers.channel import (
    CHANNEL_NOT_ALLOWED,
    ChannelNotAllowed,
    SalesChannel,
    allowed_channels,
    channel_refusal,
    default_channel,
    permitted_channel,
    pricing_store,
)
from gateway.offers.conditions import REFUSAL_MESSAGES, OfferRefusal, PricedLine
from gateway.offers.engine import OffersEngine
from gateway.offers.promotions import PromotionStore
from gateway.offers.redemptions import RedemptionRefused, Redemptions
from gateway.offers.rules import Conditions, Limits, OfferKind, Promotion, Stacking, normalise_code
from gateway.offers.stacking import OfferOutcome

__all__ = [
    "CHANNEL_NOT_ALLOWED",
    "REFUSAL_MESSAGES",
    "ChannelNotAllowed",
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
    "allowed_channels",
    "channel_refusal",
    "default_channel",
    "normalise_code",
    "permitted_channel",
    "pricing_store",
]
