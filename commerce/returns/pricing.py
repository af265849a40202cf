"""How much a return refunds: what was paid, less what the kept lines now cost.

    refund = paid so far (the order's total, less what earlier returns refunded)
           - new price of the kept lines (their units at the order's unit prices, less what
             the order's own promotions take off them alone)

clamped to [0, paid so far]. Without a promotion the refund is the returned units' prices;
a return that breaks a "buy 2" promotion refunds what was paid less the kept item's new,
full price; returning the last units refunds everything left (docs/returns.md).
"""

from __future__ import annotations

from decimal import Decimal

from connectors.records import OrderRecord

CENT = Decimal("0.01")


def ordered_units(order: OrderRecord) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in order.lines:
        if line.sku is not None:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


def unit_prices(order: OrderRecord) -> dict[str, Decimal]:
    return {line.sku: line.unit_price.amount for line in order.lines if line.sku is not None}


def kept_units(
    order: OrderRecord, returned_before: dict[str, int], returning: dict[str, int]
) -> dict[str, int]:
    """What the customer keeps once this return is done."""
    kept = {
        sku: units - returned_before.get(sku, 0) - returning.get(sku, 0)
        for sku, units in ordered_units(order).items()
    }
    return {sku: units for sku, units in kept.items() if units > 0}


def refund_due(
    order: OrderRecord, refunded_before: Decimal, kept: dict[str, int], kept_discount: Decimal
) -> Decimal:
    prices = unit_prices(order)
    kept_price = sum((prices[sku] * units for sku, units in kept.items()), Decimal(0))
    new_price = max(Decimal(0), kept_price - kept_discount)
    paid = order.total.amount - refunded_before
    return min(paid, max(Decimal(0), paid - new_price)).quantize(CENT)
