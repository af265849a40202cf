"""Applying one verified delivery exactly once: record its id, then drop the profiles (and
record the catalog changes it announces, for live subscribers).

A repeated id is acknowledged and does nothing more. If the cache cannot be invalidated the
record is removed again and the vendor is told to retry (503), so a MongoDB hiccup never
turns into a profile that stays stale until its TTL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta

from pymongo.errors import PyMongoError

from commerce.customers.cache import ProfileCache
from connectors.records import System
from gateway.webhooks.deliveries import WebhookDeliveries

log = logging.getLogger(__name__)


class DeliveryNotApplied(Exception):
    """MongoDB failed; nothing is recorded, so the vendor's retry will apply the delivery."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    duplicate: bool
    invalidated: int


async def apply_delivery(
    *,
    deliveries: WebhookDeliveries,
    cache: ProfileCache,
    vendor: str,
    delivery_id: str,
    system: System,
    ids: Collection[str],
    retention: timedelta,
    then: Callable[[], Awaitable[None]] | None = None,
) -> DeliveryOutcome:
    """`then`: more MongoDB work the delivery needs (recording catalog changes), undone
    with the record if it fails, so the vendor's retry does it all again."""
    try:
        if not await deliveries.record(vendor, delivery_id, retention):
            log.info("%s webhook %s already applied", vendor, delivery_id)
            return DeliveryOutcome(duplicate=True, invalidated=0)
    except PyMongoError as exc:
        raise DeliveryNotApplied(str(exc)) from exc
    try:
        invalidated = await cache.invalidate_by_refs(system.value, ids)
        if then is not None:
            await then()
    except PyMongoError as exc:
        try:
            await deliveries.forget(vendor, delivery_id)
        except PyMongoError:
            log.warning("%s webhook %s: could not forget the delivery", vendor, delivery_id)
        raise DeliveryNotApplied(str(exc)) from exc
    log.info("%s webhook %s: %d cached profile(s) invalidated", vendor, delivery_id, invalidated)
    return DeliveryOutcome(duplicate=False, invalidated=invalidated)
