"""HubSpot as omnigate's CrmPort (contacts by id, by email or phone, and by change time) and
AfterSalesPort (after-sales requests as tickets, connectors/hubspot/tickets.py).

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

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.hubspot import tickets
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
from connectors.records import (
    AfterSalesDraft,
    AfterSalesRecord,
    AfterSalesStatus,
    CustomerIdentity,
    System,
)

CONTACTS = "/crm/v3/objects/contacts"
BY_ID = "hubspot.contacts_by_id"
BY_EMAIL = "hubspot.contacts_by_email"
FIND = "hubspot.find_contacts"
CHANGED = "hubspot.contacts_modified_since"
TICKETS = "/crm/v3/objects/tickets"
CREATE_TICKET = "hubspot.create_ticket"
UPSERT_TICKET = "hubspot.upsert_ticket"
ASSOCIATE_TICKET = "hubspot.associate_ticket"
READ_TICKET = "hubspot.ticket"
LIST_TICKETS = "hubspot.tickets_of_contacts"
SET_TICKET_STATUS = "hubspot.update_ticket_stage"


class HubSpotCrm:
    system = System.HUBSPOT

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

    # --- after-sales requests: tickets ---------------------------------------------------

    async def open_request(self, draft: AfterSalesDraft) -> tuple[AfterSalesRecord, bool]:
        """Create, then upsert: the create sets the first stage and the contact association
        in one call; the key's unique value makes every later create a 409 CONFLICT, and
        then the ticket under the key is found by a batch upsert by `idProperty` that sends
        no stage, so a retry never moves a worked ticket back to New. (A batch upsert
        cannot carry associations, and one sending the stage would move it back.)"""
        try:
            # resending is harmless: a second create of the key is the 409 handled below
            made = await self._api.call(
                CREATE_TICKET, "POST", TICKETS, tickets.create_body(draft), idempotent=True
            )
        except UpstreamRejected as exc:
            if exc.status != 409:
                raise
        else:
            record = tickets.after_sales_record(made, draft.customer_ref.id)
            if record is None:
                raise UpstreamUnavailable(self.service, CREATE_TICKET, "no ticket in the answer")
            return record, True
        answer = await self._api.call(
            UPSERT_TICKET,
            "POST",
            f"{TICKETS}/batch/upsert",
            tickets.upsert_body(draft),
            idempotent=True,
        )
        results = answer.get("results") if isinstance(answer, dict) else None
        found = results[0] if isinstance(results, list) and len(results) == 1 else None
        ticket_id = found.get("id") if isinstance(found, dict) else None
        if not isinstance(found, dict) or not isinstance(ticket_id, str):
            raise UpstreamUnavailable(self.service, UPSERT_TICKET, "not one ticket upserted")
        created = found.get("new") is True
        if created:
            # made by this upsert (the key's ticket was deleted after the 409): it has no
            # contact yet; the default association is idempotent
            await self._api.call(
                ASSOCIATE_TICKET,
                "PUT",
                f"/crm/v4/objects/ticket/{ticket_id}/associations/default/contact/"
                f"{draft.customer_ref.id}",
                idempotent=True,
            )
        record = await self.request(ticket_id)
        if record is None:
            raise UpstreamUnavailable(self.service, UPSERT_TICKET, "the upserted ticket is gone")
        return record, created

    async def requests_of(
        self, customer_ids: Sequence[str], limit: int, created_before: datetime | None = None
    ) -> list[AfterSalesRecord]:
        ids = [i for i in dict.fromkeys(customer_ids) if tickets.is_record_id(i)]
        if not ids or limit < 1:
            return []
        found = await asyncio.gather(*(self._tickets_of(i, limit, created_before) for i in ids))
        merged = {r.ref.id: r for page in found for r in page}
        newest_first = sorted(
            merged.values(), key=lambda r: (r.created_at, int(r.ref.id)), reverse=True
        )
        return newest_first[:limit]

    async def request(self, request_id: str) -> AfterSalesRecord | None:
        ticket = await self._ticket(request_id)
        return None if ticket is None else tickets.after_sales_record(ticket, None)

    async def set_request_status(
        self, request_id: str, status: AfterSalesStatus
    ) -> AfterSalesRecord | None:
        """PATCH the ticket's stage (and, for ESCALATED or from it, its priority: the
        mapping is in connectors/hubspot/tickets.py); read first for its priority."""
        if status is AfterSalesStatus.UNKNOWN:
            raise ValueError(f"{status} is read from the CRM, never set")
        current = await self._ticket(request_id)
        if current is None:
            return None
        try:
            await self._api.call(
                SET_TICKET_STATUS,
                "PATCH",
                f"{TICKETS}/{request_id}",
                {"properties": tickets.status_properties(status, tickets.priority_of(current))},
                idempotent=True,
            )
        except UpstreamRejected as exc:
            if exc.status == 404:
                return None
            raise
        return await self.request(request_id)

    async def _ticket(self, request_id: str) -> dict[str, Any] | None:
        """A ticket with its contacts, or None for an id HubSpot does not know."""
        if not tickets.is_record_id(request_id):
            return None
        try:
            ticket = await self._api.call(
                READ_TICKET,
                "GET",
                f"{TICKETS}/{request_id}",
                params={"properties": ",".join(tickets.PROPERTIES), "associations": "contacts"},
                idempotent=True,
            )
        except UpstreamRejected as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(ticket, dict):
            raise UpstreamUnavailable(self.service, READ_TICKET, "the answer is not a ticket")
        return ticket

    async def _tickets_of(
        self, contact_id: str, limit: int, created_before: datetime | None
    ) -> list[AfterSalesRecord]:
        """A contact's tickets, newest first, at most `limit`: pages followed with `after`."""
        found: list[AfterSalesRecord] = []
        after: str | None = None
        while True:
            body = tickets.search_body(contact_id, limit - len(found), created_before, after)
            page = await self._api.post(LIST_TICKETS, f"{TICKETS}/search", body)
            results = page.get("results") if isinstance(page, dict) else None
            if not isinstance(results, list):
                raise UpstreamUnavailable(self.service, LIST_TICKETS, "no results in the answer")
            found += [
                r
                for r in (tickets.after_sales_record(t, contact_id) for t in results)
                if r is not None
            ]
            following = _next_after(page)
            if len(found) >= limit or following is None or following == after:
                return found[:limit]
            if following.isdigit() and int(following) >= SEARCH_RESULTS_MAX:
                return found[:limit]
            after = following


def _next_after(page: dict[str, Any]) -> str | None:
    paging = page.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return after if isinstance(after, str) else None
