"""Helpers shared by the offers, loyalty, quote and journey tests: promotions written
straight into the test's MongoDB database, and the GraphQL documents they use."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pymongo import AsyncMongoClient

from commerce.offers import OfferKind, Promotion, PromotionStore
from gateway.settings import Settings


def code_promo(code: str, kind: OfferKind, value: int | str | Decimal, **more: Any) -> Promotion:
    return Promotion(id=f"promo-{code.lower()}", kind=kind, code=code, value=Decimal(value), **more)


async def put_promotions(settings: Settings, *promotions: Promotion) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        store = PromotionStore(client[settings.mongodb_database])
        for promotion in promotions:
            await store.put(promotion)
    finally:
        await client.close()


async def database_read(settings: Settings, collection: str, query: dict[str, Any]) -> list[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        return await client[settings.mongodb_database][collection].find(query).to_list()
    finally:
        await client.close()


def newcomers(dataset: Any) -> list[str]:
    """CRM contacts (one per person) with no order on any channel in the seeds, from the
    start (the other modules take their shoppers from the end): a referral's friends."""
    from collections import Counter

    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos_ordered = {o.customer_id for o in dataset.pos_orders}
    shop_ordered = {o.customer_id for o in dataset.online_orders}
    ordered = {c.person_key for c in dataset.pos_customers if c.id in pos_ordered} | {
        c.person_key for c in dataset.shop_customers if c.id in shop_ordered
    }
    return [
        contact.id
        for contact in dataset.crm_contacts
        if crm_count[contact.person_key] == 1 and contact.person_key not in ordered
    ]


def ordered_before(dataset: Any) -> list[str]:
    """CRM contacts (one per person) with seeded POS receipts, from the start."""
    from collections import Counter

    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos_ordered = {o.customer_id for o in dataset.pos_orders}
    ordered = {c.person_key for c in dataset.pos_customers if c.id in pos_ordered}
    return [
        contact.id
        for contact in dataset.crm_contacts
        if crm_count[contact.person_key] == 1 and contact.person_key in ordered
    ]
