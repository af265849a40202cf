"""HubSpot as omnigate's CrmPort: contacts by id, by email or phone, and by change time.

By id and by email are batch reads (`POST /crm/v3/objects/contacts/batch/read`, 100 inputs
a call, `idProperty=email` for emails: HubSpot keeps emails unique, so an email names one
contact); by phone and by change time are searches (`POST .../contacts/search`), paged with
`after`. A batch read that knows only some inputs answers 207 with the others as errors
(OBJECT_NOT_FOUND): those keys are simply absent, as the port says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.errors import UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.hubspot.api import HubSpotApi
from connectors.hubspot.contacts import (
    BATCH_READ_MAX,
    SEARCH_RESULTS_MAX,
    batch_read,
    identity,
    modified_since_search,
    phone_searches,
)
from connectors.hubspot.settings import HubSpotSettings
from connectors.records import CustomerIdentity

CONTACTS = "/crm/v3/objects/contacts"
BY_ID = "hubspot.contacts_by_id"
BY_EMAIL = "hubspot.contacts_by_email"
FIND = "hubspot.find_contacts"
CHANGED = "hubspot.contacts_modified_since"


class HubSpotCrm:
    def __init__(self, http: UpstreamHttp, settings: HubSpotSettings) -> None:
        self.service = http.service
        self._api = HubSpotApi(http, settings)

    async def customers_by_id(self, ids: Sequence[str]) -> dict[str, CustomerIdentity]:
        # HubSpot record ids are numbers: anything else (a Salesforce id in an old token)
        # names no contact, and is not sent.
        wanted = list(dict.fromkeys(i for i in ids if i.isdigit() and i.isascii()))
        contacts = await self._batch_read(BY_ID, wanted, None)
        return {c.ref.id: c for c in contacts}

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        wanted_emails = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        wanted_phones = [p for p in phones if p]
        by_email, *by_phone = await asyncio.gather(
            self._batch_read(BY_EMAIL, wanted_emails, "email"),
            *(self._search(FIND, body) for body in phone_searches(wanted_phones)),
        )
        contacts: dict[str, CustomerIdentity] = {}
        for contact in (*by_email, *(c for page in by_phone for c in page)):
            contacts.setdefault(contact.ref.id, contact)
        return list(contacts.values())

    async def contacts_modified_since(self, since: datetime) -> list[CustomerIdentity]:
        """Contacts changed at or after `since`, oldest change first: at most the 10,000 a
        search can page through; the poll's mark then moves to the newest of them and the
        next poll reads on from there."""
        return await self._search(CHANGED, modified_since_search(since))

    async def _batch_read(
        self, operation: str, keys: list[str], id_property: str | None
    ) -> list[CustomerIdentity]:
        batches = [keys[i : i + BATCH_READ_MAX] for i in range(0, len(keys), BATCH_READ_MAX)]
        answers = await asyncio.gather(
            *(
                self._api.post(operation, f"{CONTACTS}/batch/read", batch_read(b, id_property))
                for b in batches
            )
        )
        contacts: list[CustomerIdentity] = []
        for payload in answers:
            contacts += self._contacts(operation, payload)
        return contacts

    async def _search(self, operation: str, body: dict[str, Any]) -> list[CustomerIdentity]:
        """Every result of a search, following `paging.next.after` to its end (or the cap)."""
        contacts: list[CustomerIdentity] = []
        after: str | None = None
        seen: set[str] = set()
        while True:
            page_body = body if after is None else {**body, "after": after}
            page = await self._api.post(operation, f"{CONTACTS}/search", page_body)
            contacts += self._contacts(operation, page)
            after = _next_after(page)
            if after is None or (after.isdigit() and int(after) >= SEARCH_RESULTS_MAX):
                return contacts  # the end, or as far as HubSpot lets a search page
            if after in seen:
                # a cursor handed out twice would loop forever; HubSpot's never repeat
                raise UpstreamUnavailable(self.service, operation, "paging.next.after repeated")
            seen.add(after)

    def _contacts(self, operation: str, payload: Any) -> list[CustomerIdentity]:
        results = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(results, list):
            raise UpstreamUnavailable(self.service, operation, "no results in the answer")
        return [c for c in (identity(r) for r in results) if c is not None]


def _next_after(page: dict[str, Any]) -> str | None:
    paging = page.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return after if isinstance(after, str) else None
