"""Promotions and segments as configuration: an offers file (YAML) read with the line of
every key, validated, planned against MongoDB as a diff and applied in one transaction
(`omnigate offers apply`, docs/offers.md "Offers as configuration")."""

from gateway.offers_file.commands import apply_offers_file, list_offers
from gateway.offers_file.load import OffersFileError, OffersSource, load_offers_file

__all__ = [
    "OffersFileError",
    "OffersSource",
    "apply_offers_file",
    "list_offers",
    "load_offers_file",
]
