"""Assembling one customer profile from CRM, POS and e-commerce, through the cache.

The CRM is the system of record: a customer id is the CRM contact id, and a contact the
CRM does not know is no customer. The POS and e-commerce identities are found by the
contact's normalised email or phone. Precedence (docs/customer-profile.md): CRM for name,
contact details and consent; the POS loyalty account for points.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo.errors import PyMongoError

from connectors.ports import CrmPort, CustomerDirectory, PosPort
from connectors.records import CustomerIdentity, LoyaltyAccountRecord
from gateway.metrics import Metrics
from gateway.services.identity import normalise_email, normalise_phone
from gateway.services.profile import CustomerProfile, Loyalty, ProfileRead
from gateway.store import ProfileCache

log = logging.getLogger(__name__)


class CustomerProfiles:
    def __init__(
        self,
        *,
        crm: CrmPort,
        pos: PosPort,
        ecommerce: CustomerDirectory,
        cache: ProfileCache,
        ttl: timedelta,
        metrics: Metrics,
    ) -> None:
        self._crm = crm
        self._pos = pos
        self._ecommerce = ecommerce
        self._cache = cache
        self._ttl = ttl
        self._metrics = metrics

    async def many(self, customer_ids: Sequence[str]) -> list[ProfileRead | None]:
        """Profiles in the order asked; None for ids the CRM does not know."""
        return list(await asyncio.gather(*(self.one(cid) for cid in customer_ids)))

    async def one(self, customer_id: str) -> ProfileRead | None:
        cached = await self._cached(customer_id)
        if cached is not None:
            return cached
        contacts = await self._crm.customers_by_id([customer_id])
        contact = contacts.get(customer_id)
        if contact is None:
            return None
        profile = await self._assemble(customer_id, contact)
        await self._store(profile)
        return ProfileRead(profile, from_cache=False, fetched_at=datetime.now(UTC))

    async def _cached(self, customer_id: str) -> ProfileRead | None:
        try:
            hit = await self._cache.get(customer_id)
        except PyMongoError as exc:
            self._metrics.cache_lookups.labels("profile", "error").inc()
            log.warning("profile cache read failed, reading upstreams: %s", exc)
            return None
        self._metrics.cache_lookups.labels("profile", "hit" if hit else "miss").inc()
        if hit is None:
            return None
        return ProfileRead(CustomerProfile.from_document(hit.profile), True, hit.fetched_at)

    async def _store(self, profile: CustomerProfile) -> None:
        try:
            await self._cache.put(profile.id, profile.to_document(), self._ttl)
        except PyMongoError as exc:
            log.warning("profile cache write failed: %s", exc)

    async def _assemble(self, customer_id: str, contact: CustomerIdentity) -> CustomerProfile:
        email = normalise_email(contact.email)
        phone = normalise_phone(contact.phone)
        emails = [email] if email else []
        phones = [phone] if phone else []
        pos_found, shop_found = await asyncio.gather(
            self._pos.find_customers(emails, phones) if emails or phones else _none(),
            self._ecommerce.find_customers(emails, phones) if emails or phones else _none(),
        )
        pos_ids = [c.ref.id for c in _same_person(pos_found, email, phone)]
        shop_refs = [c.ref for c in _same_person(shop_found, email, phone)]
        accounts = await self._pos.loyalty_accounts(pos_ids) if pos_ids else []
        refs = (contact.ref, *(c.ref for c in _same_person(pos_found, email, phone)), *shop_refs)
        return CustomerProfile(
            id=customer_id,
            given_name=contact.given_name,
            family_name=contact.family_name,
            email=email,
            phone=phone,
            email_opt_in=contact.email_opt_in,
            external_refs=tuple(dict.fromkeys(refs)),
            loyalty=_main_account(accounts),
        )


async def _none() -> list[CustomerIdentity]:
    return []


def _same_person(
    found: list[CustomerIdentity], email: str | None, phone: str | None
) -> list[CustomerIdentity]:
    """Directory searches can be fuzzy; keep only exact matches on the normalised forms."""
    return [
        identity
        for identity in found
        if (email is not None and normalise_email(identity.email) == email)
        or (phone is not None and normalise_phone(identity.phone) == phone)
    ]


def _main_account(accounts: list[LoyaltyAccountRecord]) -> Loyalty | None:
    if not accounts:
        return None
    best = max(accounts, key=lambda account: (account.lifetime_points, account.ref.id))
    return Loyalty(best.ref, best.balance, best.lifetime_points)
