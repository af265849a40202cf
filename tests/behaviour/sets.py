"""The vendor sets the behavioural suite certifies, defined here and nowhere else.

A set is what a retailer configures (one adapter per port, OMNIGATE_ADAPTERS__<PORT>), the
simulators of tests/conftest.py's sandbox it talks to, and its named exceptions: where the
set's systems cannot do what the suite asserts of every set, the set names the exception
and why, and the suite asserts the documented alternative behaviour instead (never a skip).
EXCEPTIONS lists every name a set may use, with what the suite asserts in its place.

`pytest tests/behaviour --vendor-set=NAME` runs one set (repeat the option for several);
NAME is one of SETS, or `module:ATTRIBUTE` naming a VendorSet of a package of one's own
(docs/adapters.md "Certifying an adapter"). Without the option every set of SETS runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sandbox.hubspot.app import DEFAULT_WEBHOOK_URL

# The ports a set chooses an adapter for, as in gateway/wiring/adapters.py, plus loyalty
PORTS = ("pos", "ecommerce", "inventory", "crm", "loyalty")

# Every named exception a set may claim: name -> what the suite asserts instead.
EXCEPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "crm-changes-polled": (
            "the CRM sends no signed change webhooks: a contact changed in the CRM reaches "
            "the cached profile through the gateway's poll (cache.crm_poll), so the suite "
            "turns the poll on and asserts the change is served, instead of delivering a "
            "webhook"
        ),
        "crm-unique-emails": (
            "the CRM refuses a second contact with an email it already holds: a person it "
            "knows twice is an identity conflict on the phone only, not on the email and "
            "the phone"
        ),
        "store-hours-unknown": (
            "the POS's locations carry no opening hours: a store's `openingHours` is "
            "empty, never invented"
        ),
        "stock-from-the-catalog-system": (
            "one system answers the catalog and the stock: when it fails the product page "
            "has nothing to show, so the answer is the `products` error of that system "
            "(data null: the field is non-null) rather than products without availability"
        ),
    }
)


@dataclass(frozen=True)
class VendorSet:
    """One retailer's systems, as the gateway is configured to speak to them."""

    name: str
    adapters: Mapping[str, str]  # port (PORTS) -> adapter name, OMNIGATE_ADAPTERS__<PORT>
    # port -> the sandbox simulator answering it (tests/conftest.py `sandbox`); loyalty
    # is left out where omnigate's own ledger keeps the points
    simulators: Mapping[str, str]
    exceptions: Mapping[str, str] = field(default_factory=dict)  # name -> why, this set
    # further settings, by section (merged into the section's defaults)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.exceptions) - set(EXCEPTIONS)
        if unknown:
            raise ValueError(f"set {self.name}: no such named exception {sorted(unknown)}")
        if set(self.adapters) != set(PORTS):
            raise ValueError(f"set {self.name}: one adapter per port of {PORTS}")

    def excepts(self, name: str) -> bool:
        """Whether this set claims the named exception (a name EXCEPTIONS knows)."""
        if name not in EXCEPTIONS:
            raise KeyError(f"no such named exception: {name}")
        return name in self.exceptions

    @property
    def vendors(self) -> frozenset[str]:
        """Every simulator the set talks to (the identity provider is everyone's)."""
        return frozenset(self.simulators.values())


REFERENCE = VendorSet(
    name="reference",
    adapters={
        "pos": "square",
        "ecommerce": "shopify",
        "inventory": "square",
        "crm": "salesforce",
        "loyalty": "auto",  # Square Loyalty, the POS's own
    },
    simulators={
        "pos": "square",
        "ecommerce": "shopify",
        "inventory": "square",
        "crm": "salesforce",
        "loyalty": "square",
    },
    exceptions={
        "crm-changes-polled": (
            "Salesforce has no signed webhooks for Contact changes (Change Data Capture "
            "needs a streaming client): omnigate polls LastModifiedDate "
            "(docs/customer-profile.md)"
        ),
    },
)

# The retailer that runs everything on Shopify (online store, Shopify POS in its shops,
# Shopify inventory across locations) with HubSpot as CRM: omnigate keeps the points.
SHOPIFY_HUBSPOT = VendorSet(
    name="shopify-hubspot",
    adapters={
        "pos": "shopify",
        "ecommerce": "shopify",
        "inventory": "shopify",
        "crm": "hubspot",
        "loyalty": "mongodb",
    },
    simulators={"pos": "shopify", "ecommerce": "shopify", "inventory": "shopify", "crm": "hubspot"},
    exceptions={
        "crm-unique-emails": (
            "HubSpot keeps one contact per email: of a person known twice, the second "
            "contact has no email (sandbox/hubspot/contacts.py)"
        ),
        "store-hours-unknown": (
            "Shopify's Location (Admin API) has an address but no business hours"
        ),
        "stock-from-the-catalog-system": (
            "Shopify answers both the catalog (products) and the inventory levels"
        ),
    },
    # HubSpot signs its webhooks over the URL its app is set to call (as behind a proxy)
    settings={"webhooks": {"hubspot_webhook_url": DEFAULT_WEBHOOK_URL}},
)

SETS: Mapping[str, VendorSet] = MappingProxyType({s.name: s for s in (REFERENCE, SHOPIFY_HUBSPOT)})


def vendor_set(spec: str) -> VendorSet:
    """The set named `spec` in SETS, or the VendorSet at `module:ATTRIBUTE`."""
    if spec in SETS:
        return SETS[spec]
    module, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"--vendor-set {spec}: one of {sorted(SETS)} or module:ATTRIBUTE")
    found = getattr(importlib.import_module(module), attribute)
    if not isinstance(found, VendorSet):
        raise TypeError(f"--vendor-set {spec} is a {type(found).__name__}, not a VendorSet")
    return found


def chosen_sets(specs: list[str] | None) -> list[VendorSet]:
    """The sets a run certifies: those named, else every set of SETS."""
    return [vendor_set(spec) for spec in specs] if specs else list(SETS.values())
