"""A cart's lines are made from their documents on first use (commerce/cart/model.py
StoredLines) and behave as the tuple they stand for."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from commerce.cart.model import StoredCart, StoredLine
from connectors.records import Money

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def document(*skus: str) -> dict[str, object]:
    return {
        "_id": "cart_1",
        "version": 4,
        "status": "OPEN",
        "lines": [
            {
                "id": f"line_{i}",
                "sku": sku,
                "quantity": i + 1,
                "added_unit_price": {"amount": "12.50", "currency": "USD"},
                "added_at": NOW,
            }
            for i, sku in enumerate(skus)
        ],
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_the_lines_are_the_documents_lines_in_order():
    cart = StoredCart.from_document(document("A", "B"))
    expected = (
        StoredLine("line_0", "A", 1, Money(Decimal("12.50"), "USD"), NOW),
        StoredLine("line_1", "B", 2, Money(Decimal("12.50"), "USD"), NOW),
    )
    assert len(cart.lines) == 2
    assert tuple(cart.lines) == expected
    assert cart.lines[1] == expected[1]
    assert cart.lines[-1:] == expected[1:]
    assert cart.lines == expected
    assert cart.quantity_of("B") == 2
    assert cart.line("line_0") == expected[0]


def test_carts_read_twice_are_equal_and_differ_by_their_lines():
    assert StoredCart.from_document(document("A")) == StoredCart.from_document(document("A"))
    assert StoredCart.from_document(document("A")) != StoredCart.from_document(document("B"))
    empty = StoredCart.from_document({**document(), "lines": []})
    assert not empty.lines
    assert list(empty.lines) == []


def test_dates_decoded_naive_are_utc_and_aware_ones_kept():
    # the cart store decodes MongoDB dates naive (commerce/cart/store.py); the change
    # stream's documents come aware
    naive = NOW.replace(tzinfo=None)
    doc = document("A")
    doc.update(created_at=naive, updated_at=naive)
    doc["lines"][0]["added_at"] = naive  # type: ignore[index]
    cart = StoredCart.from_document(doc)
    assert (cart.created_at, cart.updated_at, cart.lines[0].added_at) == (NOW, NOW, NOW)
    assert cart.updated_at.utcoffset() is not None
    assert cart.lines[0].added_at.tzinfo is UTC
    aware = StoredCart.from_document(document("A"))
    assert aware.lines[0].added_at is NOW
