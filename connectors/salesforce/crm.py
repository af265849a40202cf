"""Salesforce as omnigate's CrmPort: Contacts by id, by email or phone, and by change time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from connectors.errors import UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import CustomerIdentity
from connectors.salesforce.contacts import FIELDS, SELECT, SOBJECT, identity, lookup_queries
from connectors.salesforce.rest import SalesforceRest
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.soql import datetime_literal

# sObject Collections GET documents no id cap, only the URI's (~800 ids before 414); 200, the
# cap of every other sObject Collections operation, keeps each URI far below it.
IDS_PER_CALL = 200

BY_ID = "salesforce.contacts_by_id"
FIND = "salesforce.find_contacts"
CHANGED = "salesforce.contacts_modified_since"


class SalesforceCrm:
    def __init__(self, http: UpstreamHttp, settings: SalesforceSettings) -> None:
        self.service = http.service
        self._rest = SalesforceRest(http, settings)

    async def customers_by_id(self, ids: Sequence[str]) -> dict[str, CustomerIdentity]:
        wanted = list(dict.fromkeys(i for i in ids if i))
        batches = [wanted[i : i + IDS_PER_CALL] for i in range(0, len(wanted), IDS_PER_CALL)]
        found: dict[str, CustomerIdentity] = {}
        for batch, results in zip(
            batches, await asyncio.gather(*(self._by_id(b) for b in batches)), strict=True
        ):
            # Results are positional: entry i answers id i, null when the org has no such id.
            for requested, result in zip(batch, results, strict=True):
                contact = identity(result)
                if contact is not None:
                    found[requested] = contact
        return found

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        statements = lookup_queries([e for e in emails if e], [p for p in phones if p])
        pages = await asyncio.gather(*(self._rest.query(FIND, soql) for soql in statements))
        contacts: dict[str, CustomerIdentity] = {}
        for record in (r for page in pages for r in page):
            contact = identity(record)
            if contact is not None:
                contacts.setdefault(contact.ref.id, contact)
        return list(contacts.values())

    async def contacts_modified_since(self, since: datetime) -> list[CustomerIdentity]:
        """Contacts changed at or after `since`, oldest change first.

        Inclusive, and the literal is cut to the second, so a contact changed in the same
        second as the previous poll's newest is read again rather than missed.
        """
        soql = (
            f"{SELECT} WHERE LastModifiedDate >= {datetime_literal(since)}"
            " ORDER BY LastModifiedDate ASC, Id ASC"
        )
        records = await self._rest.query(CHANGED, soql)
        return [c for c in (identity(r) for r in records) if c is not None]

    async def _by_id(self, ids: list[str]) -> list[object]:
        results = await self._rest.get(
            BY_ID,
            self._rest.resource(f"composite/sobjects/{SOBJECT}"),
            {"ids": ",".join(ids), "fields": ",".join(FIELDS)},
        )
        if not isinstance(results, list) or len(results) != len(ids):
            raise UpstreamUnavailable(self.service, BY_ID, "not one result per id")
        return results
