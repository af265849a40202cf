"""The offers engine: promotion rules, their conditions and stacking, redemptions counted
once at checkout (docs/offers.md)."""

from commerce.offers.channel import (
    CHANNEL_NOT_ALLOWED,
    ChannelNotAllowed,
    SalesChannel,
    allowed_channels,
    channel_refusal,
    default_channel,
    permitted_channel,
    pricing_store,
)
from commerce.offers.conditions import REFUSAL_MESSAGES, OfferRefusal, PricedLine
from commerce.offers.engine import OffersEngine
from commerce.offers.promotions import PromotionStore
from commerce.offers.redemptions import RedemptionRefused, Redemptions
from commerce.offers.rules import Conditions, Limits, OfferKind, Promotion, Stacking, normalise_code
from commerce.offers.stacking import OfferOutcome

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
