"""Reading one customer's profile from the upstreams: the CRM contact first, then in
parallel the other CRM contacts claiming its email or phone, the POS and the e-commerce
customers matching it, then the matched POS customers' loyalty accounts (from the
LoyaltyPort: the POS's loyalty API or omnigate's ledger). Three round trips deep whatever
the person; any upstream failure fails the assembly (the caller decides what
a cached copy can still do, commerce/customers/profiles.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from commerce.customers.identity import normalise_email, normalise_phone
from commerce.customers.merge import ProfileSources, merge_profile, same_person
from commerce.customers.profile import CustomerProfile
from connectors.ports import CrmPort, CustomerDirectory, LoyaltyPort, PosPort
from connectors.records import System

T = TypeVar("T")


class ProfileAssembler:
    def __init__(
        self, *, crm: CrmPort, pos: PosPort, loyalty: LoyaltyPort, ecommerce: CustomerDirectory
    ) -> None:
        self._crm = crm
        self._pos = pos
        self._loyalty = loyalty
        self._ecommerce = ecommerce

    async def assemble(self, customer_id: str) -> CustomerProfile | None:
        """The merged profile, or None when the CRM knows no such contact."""
        fetched_at: dict[System, datetime] = {}
        asked_crm_at = datetime.now(UTC)
        contacts = await self._crm.customers_by_id([customer_id])
        contact = contacts.get(customer_id)
        if contact is None:
            return None
        # the contact names its CRM (Salesforce, HubSpot): its version is that system's
        fetched_at[contact.ref.system] = asked_crm_at
        email = normalise_email(contact.email)
        phone = normalise_phone(contact.phone)
        emails = [email] if email else []
        phones = [phone] if phone else []
        if emails or phones:
            crm_matches, pos_found, shop_found = await asyncio.gather(
                self._crm.find_customers(emails, phones),
                _timed(fetched_at, System.SQUARE, lambda: self._pos.find_customers(emails, phones)),
                _timed(
                    fetched_at,
                    System.SHOPIFY,
                    lambda: self._ecommerce.find_customers(emails, phones),
                ),
            )
        else:
            # nothing to match the other systems on: they are not asked
            crm_matches, pos_found, shop_found = [], [], []
        pos_ids = [c.ref.id for c in same_person(pos_found, email, phone)]
        accounts = await self._loyalty.loyalty_accounts(pos_ids) if pos_ids else []
        return merge_profile(
            ProfileSources(
                contact=contact,
                pos_customers=pos_found,
                shop_customers=shop_found,
                loyalty_accounts=accounts,
                crm_matches=crm_matches,
                fetched_at=fetched_at,
            )
        )


async def _timed(
    fetched_at: dict[System, datetime], system: System, read: Callable[[], Awaitable[T]]
) -> T:
    """`read()`, noting when it was sent: what a source said is at least that fresh."""
    fetched_at[system] = datetime.now(UTC)
    return await read()
