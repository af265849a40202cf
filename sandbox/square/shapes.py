"""The dataset's Square slice rendered in Square's own JSON shapes (Location, CatalogObject, ...).

Money is `{amount: <smallest unit>, currency}`, quantities are decimal strings and timestamps are
RFC 3339 in UTC with milliseconds, as Square writes them.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.dataset import (
    ANCHOR,
    CURRENCY,
    LineItem,
    Location,
    LoyaltyAccount,
    PosCustomer,
    PosOrder,
    Product,
)

MERCHANT_ID = "MLOMNIGATE0001"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: Decimal) -> dict[str, Any]:
    return {"amount": int((amount * 100).to_integral_value()), "currency": CURRENCY}


def location(loc: Location) -> dict[str, Any]:
    return {
        "id": loc.id,
        "name": loc.name,
        "address": {
            "address_line_1": loc.address_line_1,
            "locality": loc.locality,
            "administrative_district_level_1": loc.administrative_district_level_1,
            "postal_code": loc.postal_code,
            "country": loc.country,
        },
        "timezone": loc.timezone,
        "capabilities": ["CREDIT_CARD_PROCESSING"],
        "status": "ACTIVE",
        "created_at": rfc3339(loc.created_at),
        "merchant_id": MERCHANT_ID,
        "country": loc.country,
        "language_code": "en-US",
        "currency": CURRENCY,
        "phone_number": loc.phone_number,
        "business_name": "Omni",
        "type": "PHYSICAL",
        "business_hours": {
            "periods": [
                {"day_of_week": day, "start_local_time": start, "end_local_time": end}
                for day, start, end in loc.business_hours
            ]
        },
        "coordinates": {"latitude": loc.latitude, "longitude": loc.longitude},
        "mcc": "5651",
    }


def _catalog_version(moment: datetime) -> int:
    # Square's catalog version is the object's update time in epoch milliseconds.
    return int(moment.timestamp() * 1000)


def variation(product: Product) -> dict[str, Any]:
    return {
        "type": "ITEM_VARIATION",
        "id": product.square_variation_id,
        "updated_at": rfc3339(product.updated_at),
        "version": _catalog_version(product.updated_at),
        "is_deleted": False,
        "present_at_all_locations": True,
        "item_variation_data": {
            "item_id": product.square_item_id,
            "name": "Regular",
            "sku": product.sku,
            "ordinal": 0,
            "pricing_type": "FIXED_PRICING",
            "price_money": money(product.pos_price),
            "track_inventory": True,
            "sellable": True,
            "stockable": True,
        },
    }


def item(product: Product) -> dict[str, Any]:
    return {
        "type": "ITEM",
        "id": product.square_item_id,
        "updated_at": rfc3339(product.updated_at),
        "version": _catalog_version(product.updated_at),
        "is_deleted": False,
        "present_at_all_locations": True,
        "item_data": {
            "name": product.title,
            "description": product.description,
            "product_type": "REGULAR",
            "variations": [variation(product)],
        },
    }


def calculated_at(variation_id: str, location_id: str) -> datetime:
    """A stable last-change time per (variation, location), within the fortnight before ANCHOR."""
    digest = hashlib.sha256(f"{variation_id}:{location_id}".encode()).digest()
    return ANCHOR - timedelta(seconds=int.from_bytes(digest[:4], "big") % (14 * 86_400))


def inventory_count(
    variation_id: str, location_id: str, quantity: int, moment: datetime
) -> dict[str, Any]:
    return {
        "catalog_object_id": variation_id,
        "catalog_object_type": "ITEM_VARIATION",
        "state": "IN_STOCK",
        "location_id": location_id,
        "quantity": str(quantity),
        "calculated_at": rfc3339(moment),
    }


def customer(person: PosCustomer) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": person.id,
        "created_at": rfc3339(person.created_at),
        "updated_at": rfc3339(person.updated_at),
        "given_name": person.given_name,
        "family_name": person.family_name,
        "preferences": {"email_unsubscribed": False},
        "creation_source": "THIRD_PARTY",
        "version": person.version,
    }
    if person.email_address is not None:
        shape["email_address"] = person.email_address
    if person.phone_number is not None:
        shape["phone_number"] = person.phone_number
    return shape


def _line_item(order_id: str, index: int, line: LineItem) -> dict[str, Any]:
    total = money(line.unit_price * line.quantity)
    zero = money(Decimal(0))
    return {
        "uid": f"{order_id[:10]}-{index}",
        "catalog_object_id": line.square_variation_id,
        "name": line.name,
        "variation_name": "Regular",
        "quantity": str(line.quantity),
        "item_type": "ITEM",
        "base_price_money": money(line.unit_price),
        "gross_sales_money": total,
        "total_tax_money": zero,
        "total_discount_money": zero,
        "total_money": total,
    }


def order(pos_order: PosOrder) -> dict[str, Any]:
    created = rfc3339(pos_order.created_at)
    zero = money(Decimal(0))
    return {
        "id": pos_order.id,
        "location_id": pos_order.location_id,
        "customer_id": pos_order.customer_id,
        "source": {"name": "Square Point of Sale"},
        "line_items": [
            _line_item(pos_order.id, index, line) for index, line in enumerate(pos_order.line_items)
        ],
        "net_amounts": {
            "total_money": money(pos_order.total),
            "tax_money": zero,
            "discount_money": zero,
            "tip_money": zero,
            "service_charge_money": zero,
        },
        "total_money": money(pos_order.total),
        "total_tax_money": zero,
        "total_discount_money": zero,
        "state": pos_order.state,
        "version": 4,
        "created_at": created,
        "updated_at": created,
        "closed_at": created,
    }


def order_entry(pos_order: PosOrder) -> dict[str, Any]:
    return {"order_id": pos_order.id, "version": 4, "location_id": pos_order.location_id}


def loyalty_account(account: LoyaltyAccount) -> dict[str, Any]:
    created = rfc3339(account.created_at)
    return {
        "id": account.id,
        "program_id": account.program_id,
        "balance": account.balance,
        "lifetime_points": account.lifetime_points,
        "customer_id": account.customer_id,
        "enrolled_at": created,
        "created_at": created,
        "updated_at": created,
        "mapping": {
            "id": str(uuid.UUID(hashlib.sha256(account.id.encode()).hexdigest()[:32])),
            "phone_number": account.phone_number,
            "created_at": created,
        },
    }
