"""The offers engine's rules, conditions, refusal reasons and stacking, as plain functions:
no MongoDB, no upstream, every rule type and every reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from commerce.offers import Conditions, Limits, OfferKind, OfferRefusal, Promotion, Stacking
from commerce.offers.conditions import PricedLine, PricingContext, Shopper, Usage, refusal
from commerce.offers.evaluation import discount_for
from commerce.offers.stacking import combine

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
LINES = (
    PricedLine("SHIRT", 2, Decimal("20.00"), "Apparel"),
    PricedLine("MUG", 3, Decimal("8.00"), "Home"),
    PricedLine("CAP", 1, Decimal("12.00"), "Apparel"),
)  # subtotal 76.00


def context(**overrides: object) -> PricingContext:
    base: dict[str, object] = {
        "channel": "WEB",
        "store_id": None,
        "currency": "USD",
        "lines": LINES,
        "now": NOW,
        "shopper": Shopper("c1", "SILVER", frozenset({"VIP"})),
    }
    return PricingContext(**{**base, **overrides})  # type: ignore[arg-type]


def promo(kind: OfferKind = OfferKind.PERCENTAGE, value: str = "10", **more: object) -> Promotion:
    return Promotion(id=f"p-{kind}-{value}", kind=kind, value=Decimal(value), **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("promotion", "expected"),
    [
        (promo(OfferKind.PERCENTAGE, "10"), "7.60"),
        (promo(OfferKind.PERCENTAGE, "150"), "76.00"),  # never more than 100 %
        (promo(OfferKind.FIXED_AMOUNT, "5"), "5.00"),
        (promo(OfferKind.FIXED_AMOUNT, "500"), "76.00"),  # never more than the lines
        # buy 2 get 1 on mugs: 3 mugs, one free
        (
            promo(
                OfferKind.BUY_X_GET_Y,
                buy_quantity=2,
                get_quantity=1,
                conditions=Conditions(skus=("MUG",)),
            ),
            "8.00",
        ),
        # buy 1 get 1 across apparel: units 12, 20, 20 -> one pair, the cheaper (12) free
        (
            promo(
                OfferKind.BUY_X_GET_Y,
                buy_quantity=1,
                get_quantity=1,
                conditions=Conditions(categories=("Apparel",)),
            ),
            "12.00",
        ),
        (promo(OfferKind.FREE_SHIPPING, "0"), "0.00"),
        # 25 % on the Apparel category only: (40 + 12) * 25 %
        (
            promo(OfferKind.PERCENTAGE, "25", conditions=Conditions(categories=("Apparel",))),
            "13.00",
        ),
        # 50 % on one SKU
        (promo(OfferKind.PERCENTAGE, "50", conditions=Conditions(skus=("CAP",))), "6.00"),
    ],
    ids=[
        "percentage",
        "percentage-capped",
        "fixed",
        "fixed-capped",
        "buy-2-get-1",
        "buy-1-get-1-cheapest-free",
        "free-shipping",
        "category",
        "sku",
    ],
)
def test_each_rule_type_takes_off_what_it_says(promotion: Promotion, expected: str) -> None:
    assert discount_for(promotion, LINES) == Decimal(expected)


def test_free_shipping_is_flagged_on_the_outcome() -> None:
    [outcome] = combine([promo(OfferKind.FREE_SHIPPING, "0")], (), {}, context())
    assert outcome.free_shipping
    assert outcome.discount == 0


@pytest.mark.parametrize(
    ("promotion", "ctx", "reason"),
    [
        (None, {}, OfferRefusal.UNKNOWN_CODE),
        (promo(active=False), {}, OfferRefusal.INACTIVE),
        (
            promo(conditions=Conditions(starts_at=NOW + timedelta(hours=1))),
            {},
            OfferRefusal.NOT_STARTED,
        ),
        (promo(conditions=Conditions(ends_at=NOW)), {}, OfferRefusal.EXPIRED),
        (
            promo(conditions=Conditions(channels=("STORE", "KIOSK"))),
            {},
            OfferRefusal.CHANNEL_NOT_ELIGIBLE,
        ),
        (
            promo(conditions=Conditions(store_ids=("S1",))),
            {"channel": "STORE", "store_id": "S2"},
            OfferRefusal.STORE_NOT_ELIGIBLE,
        ),
        (
            promo(conditions=Conditions(tiers=("GOLD",))),
            {"shopper": None},
            OfferRefusal.SIGN_IN_REQUIRED,
        ),
        (promo(conditions=Conditions(tiers=("GOLD",))), {}, OfferRefusal.CUSTOMER_NOT_ELIGIBLE),
        (
            promo(conditions=Conditions(segments=("CART_ABANDONED",))),
            {},
            OfferRefusal.CUSTOMER_NOT_ELIGIBLE,
        ),
        (promo(customer_id="someone-else"), {}, OfferRefusal.CUSTOMER_NOT_ELIGIBLE),
        (
            promo(referrer_id="c0"),
            {"shopper": Shopper("c1", has_ordered=True)},
            OfferRefusal.NOT_FIRST_ORDER,
        ),
        (
            promo(OfferKind.FIXED_AMOUNT, "5", currency="EUR"),
            {},
            OfferRefusal.CURRENCY_MISMATCH,
        ),
        (promo(conditions=Conditions(skus=("NOPE",))), {}, OfferRefusal.NO_ELIGIBLE_ITEMS),
        (
            promo(conditions=Conditions(min_subtotal=Decimal("76.01"))),
            {},
            OfferRefusal.MINIMUM_NOT_REACHED,
        ),
        (
            promo(limits=Limits(total=100)),
            {"usage": {"p-PERCENTAGE-10": Usage(total=100)}},
            OfferRefusal.USAGE_LIMIT_REACHED,
        ),
        (
            promo(limits=Limits(per_customer=1)),
            {"usage": {"p-PERCENTAGE-10": Usage(total=5, by_customer=1)}},
            OfferRefusal.ALREADY_USED,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, OfferRefusal) else "",
)
def test_each_refusal_has_its_reason(
    promotion: Promotion | None, ctx: dict[str, object], reason: OfferRefusal
) -> None:
    assert refusal(promotion, context(**ctx)) is reason


def test_conditions_that_hold_refuse_nothing() -> None:
    held = promo(
        conditions=Conditions(
            channels=("STORE",),
            store_ids=("S1",),
            tiers=("SILVER",),
            segments=("VIP",),
            categories=("Home",),
            min_subtotal=Decimal(24),
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=1),
        ),
        limits=Limits(total=10, per_customer=1),
        customer_id="c1",
    )
    usage = {held.id: Usage(total=9, by_customer=0)}
    assert refusal(held, context(channel="STORE", store_id="S1", usage=usage)) is None


def coded(code: str, stacking: Stacking, priority: int, value: str = "10") -> Promotion:
    return Promotion(
        id=code,
        kind=OfferKind.FIXED_AMOUNT,
        code=code,
        value=Decimal(value),
        stacking=stacking,
        priority=priority,
    )


def test_stackable_promotions_add_up_never_past_the_subtotal() -> None:
    a, b = coded("A", Stacking.STACKABLE, 0, "50"), coded("B", Stacking.STACKABLE, 0, "50")
    outcomes = combine([], ("A", "B"), {"A": a, "B": b}, context())
    assert [(o.code, o.discount, o.refusal) for o in outcomes] == [
        ("A", Decimal(50), None),
        ("B", Decimal(26), None),  # capped at what is left of 76
    ]


def test_an_exclusive_promotion_stands_alone() -> None:
    solo, extra = coded("SOLO", Stacking.EXCLUSIVE, 10), coded("EXTRA", Stacking.STACKABLE, 0)
    outcomes = combine([], ("EXTRA", "SOLO"), {"SOLO": solo, "EXTRA": extra}, context())
    assert [(o.code, o.refusal) for o in outcomes] == [
        ("EXTRA", OfferRefusal.NOT_COMBINABLE),
        ("SOLO", None),
    ]


def test_priority_decides_between_an_exclusive_and_others() -> None:
    auto = Promotion(id="AUTO", kind=OfferKind.PERCENTAGE, value=Decimal(5), priority=20)
    solo = coded("SOLO", Stacking.EXCLUSIVE, 10)
    outcomes = combine([auto], ("SOLO",), {"SOLO": solo}, context())
    # the automatic promotion ranks first, so the exclusive code cannot join it
    assert [(o.code, o.refusal, o.discount) for o in outcomes] == [
        ("SOLO", OfferRefusal.NOT_COMBINABLE, Decimal(0)),
        (None, None, Decimal("3.80")),
    ]


def test_two_exclusives_the_higher_priority_wins() -> None:
    low, high = coded("LOW", Stacking.EXCLUSIVE, 1), coded("HIGH", Stacking.EXCLUSIVE, 2)
    outcomes = combine([], ("LOW", "HIGH"), {"LOW": low, "HIGH": high}, context())
    assert [(o.code, o.refusal) for o in outcomes] == [
        ("LOW", OfferRefusal.NOT_COMBINABLE),
        ("HIGH", None),
    ]


def test_automatic_promotions_that_do_not_apply_are_not_listed() -> None:
    kiosk_only = Promotion(
        id="K",
        kind=OfferKind.PERCENTAGE,
        value=Decimal(5),
        conditions=Conditions(channels=("KIOSK",)),
    )
    assert combine([kiosk_only], (), {}, context()) == []
    [applied] = combine([kiosk_only], (), {}, context(channel="KIOSK"))
    assert applied.discount == Decimal("3.80")
