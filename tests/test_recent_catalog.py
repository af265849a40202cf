"""The recent catalog a cart add falls back on: answers kept for the TTL, at most so many
SKUs, all-or-nothing per read, and each fallback counted for operators."""

from __future__ import annotations

from decimal import Decimal

from commerce.recent_catalog import RecentCatalog
from connectors.records import Money, ProductRecord, StockLevel
from gateway.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def product(sku: str, amount: str = "9.99") -> ProductRecord:
    return ProductRecord(sku, sku.title(), "", Money(Decimal(amount), "USD"))


def lookups(metrics: Metrics, cache: str, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "omnigate_cache_lookups_total", {"cache": cache, "result": result}
    )
    return value or 0.0


def test_an_answer_is_kept_for_the_ttl_and_the_newest_wins() -> None:
    clock = Clock()
    recent = RecentCatalog(ttl_seconds=300, max_skus=10, clock=clock)
    recent.remember_products([product("A", "1.00"), product("B")])
    clock.now += 200
    recent.remember_products([product("A", "2.00")])
    assert [p.price.amount for p in recent.products(["A", "B"]) or []] == [
        Decimal("2.00"),
        Decimal("9.99"),
    ]
    clock.now += 100  # B was answered 300 s ago: too old; A 100 s ago
    assert recent.products(["A", "B"]) is None
    assert recent.products(["A"]) == [product("A", "2.00")]


def test_a_read_needs_every_sku_held() -> None:
    recent = RecentCatalog(ttl_seconds=300, max_skus=10, clock=Clock())
    recent.remember_stock({"A": [StockLevel("A", "L1", 3)], "B": []})
    assert recent.stock(["B", "A"]) == [[], [StockLevel("A", "L1", 3)]]
    assert recent.stock(["A", "C"]) is None
    assert recent.products(["A"]) is None  # stock and products are kept apart


def test_past_max_skus_the_least_recently_answered_go_first() -> None:
    recent = RecentCatalog(ttl_seconds=300, max_skus=2, clock=Clock())
    recent.remember_products([product("A"), product("B")])
    recent.remember_products([product("A"), product("C")])  # A answered again: B is oldest
    assert recent.products(["B"]) is None
    assert recent.products(["A", "C"]) is not None


def test_a_ttl_of_zero_keeps_nothing() -> None:
    recent = RecentCatalog(ttl_seconds=0, max_skus=10, clock=Clock())
    recent.remember_products([product("A")])
    recent.remember_stock({"A": []})
    assert (recent.products(["A"]), recent.stock(["A"])) == (None, None)


def test_each_fallback_is_counted_as_a_hit_or_a_miss() -> None:
    metrics = Metrics()
    recent = RecentCatalog(ttl_seconds=300, max_skus=10, lookups=metrics, clock=Clock())
    recent.remember_products([product("A")])
    recent.products(["A"])
    recent.products(["A", "B"])
    recent.stock(["A"])
    assert lookups(metrics, "recent_products", "hit") == 1
    assert lookups(metrics, "recent_products", "miss") == 1
    assert lookups(metrics, "recent_stock", "miss") == 1
