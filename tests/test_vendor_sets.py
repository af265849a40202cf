"""The behavioural suite's sets (tests/behaviour/sets.py) are checked as they are made: a
named exception the suite does not know, or a port left without an adapter, is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from behaviour.sets import (
    EXCEPTIONS,
    REFERENCE,
    SETS,
    SHOPIFY_HUBSPOT,
    VendorSet,
    chosen_sets,
    vendor_set,
)


def test_a_set_may_only_name_an_exception_the_suite_asserts():
    with pytest.raises(ValueError, match="no such named exception"):
        VendorSet(
            name="acme",
            adapters=REFERENCE.adapters,
            simulators=REFERENCE.simulators,
            exceptions={"slow-stock": "the stock is read nightly"},
        )
    with pytest.raises(KeyError):
        REFERENCE.excepts("slow-stock")


def test_a_set_chooses_an_adapter_for_every_port():
    adapters = {port: name for port, name in REFERENCE.adapters.items() if port != "loyalty"}
    with pytest.raises(ValueError, match="one adapter per port"):
        VendorSet(name="acme", adapters=adapters, simulators=REFERENCE.simulators)


def test_sets_are_chosen_by_name_or_by_module_attribute():
    assert chosen_sets([]) == list(SETS.values())
    assert chosen_sets(["shopify-hubspot", "behaviour.sets:REFERENCE"]) == [
        SHOPIFY_HUBSPOT,
        REFERENCE,
    ]
    with pytest.raises(ValueError, match="one of"):
        vendor_set("acme")
    with pytest.raises(TypeError, match="not a VendorSet"):
        vendor_set("behaviour.sets:SETS")


def test_every_named_exception_is_asserted_by_a_behavioural_test():
    """A name in EXCEPTIONS is a promise that some test asserts its alternative."""
    suite = Path(__file__).parent / "behaviour"
    sources = "".join(path.read_text() for path in suite.glob("test_*.py"))
    assert [name for name in EXCEPTIONS if f'excepts("{name}")' not in sources] == []
